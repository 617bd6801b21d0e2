"""`mlci smoke`: real holdout rows through a target's live endpoint (its load balancer)."""

from __future__ import annotations

from mlci import log
from mlci.deploy import find_target, smoke
from mlci.errors import InputError
from mlci.reports import write_junit
from mlci.step import StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    target = find_target(ctx.config, ctx.options.get("target"))
    url = ctx.options.get("url") or target.url
    if not url:
        raise InputError(f"deploy target {target.name}: url is required for smoke tests (or pass url)")
    rows = smoke.holdout_rows(ctx.config, ctx.project_dir, target.smoke)
    log.info(
        f"smoke test of {target.name} at {url}: {len(rows.data)} holdout rows, {target.smoke.batch_rows} per request"
    )
    checks = smoke.check(url, rows, target.smoke)
    junit = write_junit(ctx.report_dir / f"smoke-{target.name}.xml", f"smoke.{target.name}", checks)
    failed = [c for c in checks if not c.passed]
    worst = max(c.seconds for c in checks) * 1000
    outputs = {
        "target": target.name,
        "url": url,
        "requests": len(checks),
        "failed": len(failed),
        "maxLatencyMs": round(worst, 1),
    }
    if failed:
        return StepResult(
            "failed",
            f"smoke test of {target.name} failed: {failed[0].name}: {failed[0].message}",
            outputs,
            [junit],
            junit,
        )
    return StepResult(
        "passed",
        f"{len(rows.data)} rows in {len(checks)} requests to {url}, slowest {worst:.0f} ms",
        outputs,
        [junit],
        junit,
    )
