"""`mlci promote`: `champion` moves to a validated version; the one it leaves becomes
`previous-champion`, what `mlci rollback-model` swaps back. Aliases only, no stages.
"""

from __future__ import annotations

from mlci import aliases, log, tracking
from mlci.errors import InputError
from mlci.step import StepContext, StepResult

CHAMPION = "champion"
PREVIOUS = "previous-champion"
CHALLENGER = "challenger"


def run(ctx: StepContext) -> StepResult:
    name = ctx.config.model.name
    store = aliases.store(tracking.server(ctx.config, ctx.project_dir))
    interrupted = aliases.finish(store, name)  # an earlier promote or rollback stopped half-way
    if interrupted is not None:
        log.warn(f"finished the interrupted {interrupted.what} ({interrupted.targets}) before promoting")
    given = ctx.options.get("version")
    if given:
        version = str(given)
    else:
        challenger = store.get(name, CHALLENGER)
        if challenger is None:
            raise InputError(f"version: not given, and model {name} has no @{CHALLENGER} (run mlci register first)")
        version = challenger.version
    target = store.version(name, version)
    if target is None:
        raise InputError(f"version: {name} has no version {version}")
    status = target.tags.get("mlci.validation.status", "not validated")
    if status != "passed":
        return StepResult("failed", f"{name} version {version} is not promoted: its validation status is {status!r}")
    current = store.get(name, CHAMPION)
    outputs = {"modelName": name, "version": version, "previousVersion": None if current is None else current.version}
    if current is not None and current.version == version:
        _drop_challenger(store, name, version)
        return StepResult("passed", f"{name} version {version} is already @{CHAMPION}", outputs)
    # previous-champion first: a failure between the two calls leaves champion where it was
    # (and the recorded move, which the next promote or rollback-model finishes).
    targets = {PREVIOUS: current.version} if current is not None else {}
    aliases.move(store, name, aliases.Move(f"promotion of {name} version {version}", {**targets, CHAMPION: version}))
    _drop_challenger(store, name, version)
    before = f"; version {current.version} is @{PREVIOUS}" if current else "; first champion"
    return StepResult("passed", f"{name} version {version} is @{CHAMPION}{before}", outputs)


def _drop_challenger(store: aliases.Aliases, name: str, version: str) -> None:
    """A promoted version is no longer the challenger; a newer challenger keeps its alias."""
    challenger = store.get(name, CHALLENGER)
    if challenger is not None and challenger.version == version:
        store.delete(name, CHALLENGER)
