"""`mlci drift`: current data (a file, or a folder of request batches captured by the model
server) against the drift reference logged with the model at training time; the training data
is never read again.

Writes `drift.json` and `drift.html` under reports/drift/, then pushes gauges to the
Pushgateway when `monitoring.pushgateway_url` is set (an unreachable one is exit 3, after the
reports are written). The gate fails (exit 1) on dataset drift.
"""

from __future__ import annotations

import os

from mlci import log
from mlci.data import files
from mlci.drift import check, push, report, source
from mlci.errors import InputError
from mlci.step import StepContext, StepResult


def measure(ctx: StepContext) -> tuple[check.DriftResult, str, str]:
    """The drift check of `monitoring.drift.current` against the reference, the reference used
    and the current data's name."""
    cfg = ctx.config.monitoring.drift
    if not cfg.current:
        raise InputError("monitoring.drift.current: not set; pass current: a data file or a folder of request batches")
    ref_spec = cfg.reference or f"models:/{ctx.config.model.name}@champion"
    with log.Status("loading the drift reference"):
        reference = source.load(ref_spec, ctx.config, ctx.project_dir)
    data_path = ctx.project_dir / cfg.current
    with log.Status(f"reading {data_path}"):
        frame = files.read(data_path, columns=list(reference["columns"]), max_rows=cfg.sample_rows)
    with log.Status("computing drift"):
        result = check.compare(reference, frame, check.Thresholds.from_config(cfg), str(data_path), cfg.sample_rows)
    return result, ref_spec, cfg.current


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.monitoring.drift
    model = ctx.config.model.name
    result, ref_spec, current = measure(ctx)
    doc = report.document(result, model, ref_spec, current)
    json_path = report.write_json(ctx.report_dir / "drift.json", doc)
    page = report.write_page(ctx.report_dir / "drift.html", result, model, ref_spec, current)
    url = ctx.config.monitoring.pushgateway_url
    if url:
        push.push(url, result, model, os.path.relpath(json_path))
        log.info(f"pushed drift gauges for {model} to {url}")
    drifted = ", ".join(f"{c.name} ({c.reasons[0]})" for c in result.drifted) or "none"
    warned = [c.name for c in result.columns if c.status == "warn"]
    outputs = {
        "datasetDrift": result.dataset_drift,
        "driftedShare": round(result.share, 4),
        "driftedColumns": [c.name for c in result.drifted],
        "warnColumns": warned,
        "columns": len(result.columns),
        "rows": result.rows,
        "rowsUsed": result.rows_used,
        "reference": ref_spec,
    }
    tally = (
        f"{len(result.drifted)} of {len(result.columns)} columns drifted ({result.share:.0%}, dataset drift at "
        f"{cfg.dataset_share:.0%}): {drifted}"
    )
    if warned:
        tally += f"; warn: {', '.join(warned)}"
    if result.dataset_drift:
        return StepResult("failed", f"dataset drift: {tally}", outputs, [json_path, page])
    return StepResult("passed", f"no dataset drift: {tally}", outputs, [json_path, page])
