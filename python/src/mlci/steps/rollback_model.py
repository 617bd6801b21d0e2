"""`mlci rollback-model`: swap `champion` and `previous-champion` back, in one call.

Run again, it swaps forward: the two aliases always name the last two champions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlci import aliases, tracking
from mlci.errors import InputError
from mlci.step import StepContext, StepResult
from mlci.steps.promote import CHAMPION, PREVIOUS


def run(ctx: StepContext) -> StepResult:
    summary, outputs = swap(ctx.config, ctx.project_dir)
    return StepResult("passed", summary, outputs)


def swap(cfg: Any, project_dir: Path) -> tuple[str, dict[str, Any]]:
    """Swap the two aliases (or finish an interrupted swap); the summary and outputs."""
    started = time.monotonic()
    name = cfg.model.name
    store = aliases.store(tracking.server(cfg, project_dir))
    interrupted = aliases.finish(store, name)
    if interrupted is not None:
        # The retry of a run that failed half-way: what that run meant is now done; swapping
        # again would undo it.
        now, before = interrupted.targets.get(CHAMPION), interrupted.targets.get(PREVIOUS)
        outputs = {"modelName": name, "version": now, "previousVersion": before, "swapSeconds": _since(started)}
        summary = (
            f"finished the interrupted {interrupted.what}: {name} @{CHAMPION} is version {now}, "
            f"@{PREVIOUS} version {before}"
        )
        return summary, outputs
    current = store.get(name, CHAMPION)
    previous = store.get(name, PREVIOUS)
    if previous is None:
        raise InputError(f"model {name} has no @{PREVIOUS}: nothing to roll back to")
    # champion first: the serving side follows champion, and both aliases stay valid versions.
    targets = {CHAMPION: previous.version}
    if current is not None:
        targets[PREVIOUS] = current.version
    aliases.move(store, name, aliases.Move(f"rollback of {name}", targets))
    seconds = _since(started)
    was = current.version if current else None
    outputs = {"modelName": name, "version": previous.version, "previousVersion": was, "swapSeconds": seconds}
    return f"{name} @{CHAMPION} rolled back to version {previous.version} (was {was}) in {seconds} s", outputs


def champion(cfg: Any, project_dir: Path) -> str | None:
    """The version @champion names; None when the model has none."""
    found = aliases.store(tracking.server(cfg, project_dir)).get(cfg.model.name, CHAMPION)
    return None if found is None else found.version


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
