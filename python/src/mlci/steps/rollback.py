"""`mlci rollback`: the previous digest back on every host of a target, through the same
playbook code path as a deploy (each host's facts file names its previous digest)."""

from __future__ import annotations

from mlci import log, masking
from mlci.deploy import backend, find_target, smoke
from mlci.protocol import StepContext, StepResult


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
    return StepResult("passed", f"{target.name} back on the previous image ({outcome.seconds:.1f} s)", outputs, reports)
