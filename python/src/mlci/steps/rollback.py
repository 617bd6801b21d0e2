"""`mlci rollback`: the previous digest back on every host of a target, through the same
playbook code path as a deploy (each host's facts file names its previous digest)."""

from __future__ import annotations

import os

from mlci import log, masking
from mlci.deploy import backend, find_target, smoke
from mlci.errors import InfrastructureError, InputError, MlciError
from mlci.step import StepContext, StepResult
from mlci.steps import rollback_model
from mlci.steps.promote import CHAMPION


def run(ctx: StepContext) -> StepResult:
    target = find_target(ctx.config, ctx.options.get("target"))
    rows = smoke.holdout_rows(ctx.config, ctx.project_dir, target.smoke)
    log.info(f"rolling {target.name} back to the previous image on every host")
    outcome = backend(ctx.config, target, ctx.project_dir, ctx.report_dir).rollback(rows.payload())
    report = ctx.report_dir / f"rollback-{target.name}.json"
    masking.write_json(report, {"target": target.name, **outcome.as_dict()})
    outputs = {
        "target": target.name,
        "hosts": {h: r.status for h, r in outcome.hosts.items()},
        "durationSeconds": round(outcome.seconds, 2),
    }
    reports = [report, *outcome.transcripts]
    if not outcome.passed:
        return StepResult("failed", f"rollback of {target.name} failed: {outcome.message}", outputs, reports)
    done = f"{target.name} back on the previous image ({outcome.seconds:.1f} s)"
    if ctx.options.get("model"):
        outputs["champion"], note = _registry_back(ctx, done)
    else:
        outputs["champion"], note = _registry_unchanged(ctx)
    return StepResult("passed", done + note, outputs, reports)


def _registry_back(ctx: StepContext, done: str) -> tuple[str | None, str]:
    """`model: true`: the aliases follow the hosts. A failure here leaves the hosts rolled back
    (said first) and the aliases to `mlci rollback-model`, which finishes an interrupted swap."""
    advice = "; run mlci rollback-model to move @champion back"
    try:
        summary, outputs = rollback_model.swap(ctx.config, ctx.project_dir)
    except InfrastructureError as err:
        raise InfrastructureError(err.service, f"{done}, but not the registry: {_detail(err)}{advice}") from None
    except InputError as err:
        raise InputError(f"{done}, but not the registry: {err}") from None
    return outputs["version"], f"; {summary}"


def _registry_unchanged(ctx: StepContext) -> tuple[str | None, str]:
    """What @champion names now that the hosts serve the previous image: the monitor judges
    drift against that version, so the summary says when the two no longer agree."""
    if not (ctx.config.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")):
        return None, ""
    try:
        version = rollback_model.champion(ctx.config, ctx.project_dir)
    except MlciError as err:
        log.warn(f"could not read @{CHAMPION} after the rollback: {err}")
        return None, f"; @{CHAMPION} not read ({type(err).__name__}), the registry was not rolled back"
    if version is None:
        return None, ""
    return version, (
        f"; @{CHAMPION} still names version {version} (the registry was not rolled back: "
        "pass model: true, or run mlci rollback-model)"
    )


def _detail(err: InfrastructureError) -> str:
    return str(err).removeprefix(f"{err.service}: ")
