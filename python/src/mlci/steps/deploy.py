"""`mlci deploy`: deploy the model image to one `.mlci.yml` target through its backend.

The image is the digest reference `mlci build` pushed (reports/build/image.json) unless the
`image` param names one; a tag is refused. The backend gates the new version with real holdout
rows before it takes traffic and rolls back on its own when a gate fails.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlci import bounded, log, masking
from mlci.deploy import backend, find_target, smoke
from mlci.errors import InputError
from mlci.reports import Check, write_junit
from mlci.step import StepContext, StepResult

DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def image_reference(ctx: StepContext) -> str:
    return resolve_image(ctx.options.get("image"), ctx.project_dir)


def resolve_image(given: str | None, project_dir: Path) -> str:
    """The image given, else the one `mlci build` pushed; refused unless pinned by digest."""
    if not given:
        built = project_dir / "reports" / "build" / "image.json"
        try:
            record = bounded.json_loads(bounded.read_text(built, str(built), bounded.MAX_CONFIG_BYTES), str(built))
        except FileNotFoundError:
            raise InputError("image: not given and no reports/build/image.json from `mlci build`; pass image") from None
        except OSError as err:
            raise InputError(f"image: cannot read {built}: {err.strerror or err}; pass image") from None
        given = record.get("reference") if isinstance(record, dict) else None
        if not given or not isinstance(given, str):
            raise InputError(f"image: {built} has no pushed reference (built with push: false?); pass image")
    if not DIGEST_REF.match(given):
        raise InputError(f"image: {given!r} is not pinned by digest (repository@sha256:<64 hex>); tags are refused")
    return str(given)


def run(ctx: StepContext) -> StepResult:
    target = find_target(ctx.config, ctx.options.get("target"))
    if ctx.options.get("strategy"):
        target = target.model_copy(update={"strategy": ctx.options["strategy"]})
    image = image_reference(ctx)
    rows = smoke.holdout_rows(ctx.config, ctx.project_dir, target.smoke)
    log.info(f"deploying {image} to {target.name} ({target.environment}, {target.strategy})")
    outcome = backend(ctx.config, target, ctx.project_dir, ctx.report_dir).deploy(image, rows.payload(), rows.expected)
    report = ctx.report_dir / f"deploy-{target.name}.json"
    masking.write_json(report, {"target": target.name, "image": image, **outcome.as_dict()})
    checks = [
        Check(host, r.status in ("ok", "changed"), f"{r.status}: {r.changed} changed, {r.failed} failed")
        for host, r in outcome.hosts.items()
    ]
    junit = write_junit(ctx.report_dir / f"deploy-{target.name}.xml", f"deploy.{target.name}", checks)
    outputs = {
        "target": target.name,
        "environment": target.environment,
        "strategy": target.strategy,
        "image": image,
        "hosts": {h: r.status for h, r in outcome.hosts.items()},
        "rolledBack": outcome.rolled_back,
        "durationSeconds": round(outcome.seconds, 2),
    }
    reports = [report, junit, *outcome.transcripts]
    if not outcome.passed:
        return StepResult("failed", f"deploy to {target.name} failed: {outcome.message}", outputs, reports, junit)
    changed = sum(1 for r in outcome.hosts.values() if r.changed)
    return StepResult(
        "passed",
        f"{image.rsplit('@', 1)[1][:19]} on {target.name} ({target.strategy}, {len(outcome.switched)} hosts switched, "
        f"{changed} hosts changed, {outcome.seconds:.1f} s)",
        outputs,
        reports,
        junit,
    )
