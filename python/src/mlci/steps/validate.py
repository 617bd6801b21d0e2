"""`mlci validate`: the candidate against the registered model's `champion` on the holdout.

The candidate is evaluated with `mlflow.models.evaluate` in its own run; thresholds are
applied with `mlflow.validate_evaluation_results`. The champion's metrics are reused when
they were computed on a holdout with the same digest (stored as a tag of its model version),
else the champion is re-evaluated and its metrics stored for the next time. Slices, a size
budget and a latency budget are checked beyond MLflow. Reports: JUnit (one testcase per
check), HTML, Markdown; all also logged to the candidate's run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import candidate, lineage, log, masking, tracking
from mlci.errors import InputError
from mlci.gate import blame, evaluate, labels, report
from mlci.gate import checks as gate_checks
from mlci.reports import write_junit
from mlci.step import StepContext, StepResult

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
METRICS_TAG = "mlci.metrics"  # on a run: its metrics on the holdout named by HOLDOUT_TAG
HOLDOUT_TAG = "mlci.holdout.digest"
STATUS_TAG = "mlci.validation.status"
ARTIFACT_DIR = "mlci/validation"


def metrics_tag(digest: str) -> str:
    """The model-version tag holding a version's metrics on the holdout with this digest."""
    return f"{METRICS_TAG}.{digest}"


def _target(ctx: StepContext) -> str:
    target = ctx.config.model.target
    if not target:
        raise InputError("model.target: not set; validation needs the label column")
    return target


def _holdout(ctx: StepContext) -> tuple[str, Path, Any, str]:
    cfg = ctx.config
    target = _target(ctx)
    if not cfg.data.holdout:
        raise InputError("data.holdout: not set; validation needs a holdout data file")
    path = ctx.project_dir / cfg.data.holdout
    if not path.is_file():
        raise InputError(f"data.holdout: {cfg.data.holdout} not found in {ctx.project_dir.resolve()}")
    from mlci.data import files

    frame = files.read(path)
    if target not in frame.columns:
        raise InputError(f"{cfg.data.holdout}: no label column {target!r} (model.target)")
    if len(frame) == 0:
        raise InputError(f"{cfg.data.holdout}: no rows")
    return cfg.data.holdout, path, frame, lineage.sha256_file(path)[:16]


def _model_uri(client: MlflowClient, srv: tracking.Server, run_id: str) -> str:
    run = tracking.get_run(client, srv, run_id)
    with tracking.guard(srv, f"reading run {run_id}"):
        uri = run.data.tags.get("mlci.model.uri")
        if uri:
            return str(uri)
        found = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'", max_results=2
        )
    if len(found) != 1:
        raise InputError(
            f"runId: run {run_id} has {len(found)} logged models; "
            "validate needs exactly one (or the mlci.model.uri tag)"
        )
    return f"models:/{found[0].model_id}"


def _champion(client: MlflowClient, srv: tracking.Server, name: str) -> Any:
    with tracking.guard(srv, f"looking up {name}@{CHAMPION}"):
        try:
            return client.get_model_version_by_alias(name, CHAMPION)
        except Exception as err:
            if tracking.is_not_found(err):
                return None
            raise


def _run_labels(client: MlflowClient, srv: tracking.Server, run_id: str | None) -> list[Any] | None:
    """The class labels `mlci train` recorded on a run (None: not recorded, or no run)."""
    if not run_id:
        return None
    with tracking.guard(srv, f"reading run {run_id}"):
        try:
            return labels.recorded(client.get_run(run_id).data.tags)
        except Exception as err:
            if tracking.is_not_found(err):
                return None
            raise


def _evaluate_champion(
    ctx: StepContext, client: MlflowClient, srv: tracking.Server, version: Any, frame: Any, workdir: Path
) -> tuple[dict[str, float], str | None]:
    """The champion's metrics on this holdout, and how its output was read (see labels.read).
    A champion that cannot be loaded or cannot predict it cannot be compared with: not a
    pass, and a problem of that model (exit 2)."""
    import mlflow

    cfg = ctx.config
    target = _target(ctx)
    who = f"champion {cfg.model.name} version {version.version}"
    try:
        loaded = evaluate.load(srv, version.source, workdir, who, cfg.validate_.env_manager, f"the {CHAMPION}")
        with blame.model_guard(srv, f"predicting with {who}", f"{who} {version.source} cannot predict this holdout"):
            output = loaded.model.predict(evaluate.features(loaded.model, frame, target))
        read = labels.read(output, cfg.model.task, _run_labels(client, srv, version.run_id), f"{who} {version.source}")
        with (
            tracking.guard(srv, f"evaluating {who}", bounded=False),
            mlflow.start_run(run_name=f"champion-v{version.version}-eval", nested=True),
        ):
            found = evaluate.metrics(
                srv,
                loaded.model,
                frame,
                target,
                cfg.model.task,
                who,
                version.source,
                read.values if read.note else None,
            )
        return found, read.note
    except InputError as err:
        raise InputError(
            f"{err}. The {CHAMPION} alias is unchanged; repair the artifact, or move the alias with "
            "`mlci rollback-model` or `mlci promote`",
            err.details,
        ) from None


def _confusion(frame: Any, target: str, predictions: Any) -> tuple[list[str], list[list[int]]]:
    import numpy as np

    y = frame[target].to_numpy()
    p = np.asarray(predictions).reshape(len(frame), -1)[:, 0]
    labels = sorted(set(y.tolist()) | set(p.tolist()), key=str)
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for t, q in zip(y.tolist(), p.tolist(), strict=True):
        counts[index[t]][index[q]] += 1
    return [str(label) for label in labels], counts


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config
    vcfg = cfg.validate_
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 3)
        clock = now

    holdout, _path, frame, digest = _holdout(ctx)
    target = _target(ctx)
    run_id = candidate.run_id(ctx)
    lap("readHoldout")
    srv = tracking.server(cfg, ctx.project_dir)
    client = tracking.connect(srv)
    import mlflow

    evaluate.quiet_mlflow()
    model_uri = _model_uri(client, srv, run_id)
    champion = _champion(client, srv, cfg.model.name)
    lap("mlflowConnect")
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    for stale in ctx.report_dir.iterdir():
        if stale.is_file():
            stale.unlink()  # a report of an earlier run must never stand in for this one
    with evaluate.scratch() as tmp:
        loaded = evaluate.load(
            srv, model_uri, Path(tmp) / "candidate", "the candidate", vcfg.env_manager, "the candidate"
        )
        read = labels.read(
            evaluate.predict(loaded.model, frame, target, holdout, model_uri),
            cfg.model.task,
            _run_labels(client, srv, run_id),
            f"the candidate {model_uri}",
        )
        predictions, notes = read.values, [n for n in [read.note] if n]
        for note in notes:
            log.info(note)
        lap("loadModel")
        with (
            log.Status("evaluating the candidate"),
            tracking.guard(srv, f"evaluating run {run_id}", bounded=False),
            mlflow.start_run(run_id=run_id),
        ):
            cand_metrics = evaluate.metrics(
                srv,
                loaded.model,
                frame,
                target,
                cfg.model.task,
                "the candidate",
                model_uri,
                predictions if read.note else None,
            )
            lap("evaluate")
            champ_metrics: dict[str, float] | None = None
            reused = False
            if champion is not None:
                stored = champion.tags.get(metrics_tag(digest))
                if stored:
                    champ_metrics, reused = json.loads(stored), True
                    log.info(f"champion version {champion.version}: metrics on this holdout reused")
                else:
                    log.info(f"champion version {champion.version}: no metrics on this holdout yet, re-evaluating")
                    champ_metrics, champ_note = _evaluate_champion(
                        ctx, client, srv, champion, frame, Path(tmp) / "champion"
                    )
                    if champ_note:
                        log.info(champ_note)
                        notes.append(champ_note)
                    with tracking.guard(srv, "storing the champion's metrics"):
                        client.set_model_version_tag(
                            cfg.model.name, champion.version, metrics_tag(digest), json.dumps(champ_metrics)
                        )
            lap("champion")
        p95 = None
        if vcfg.max_latency_p95_ms is not None:
            p95 = evaluate.latency_p95_ms(loaded.model, frame, target, vcfg.latency_rows, vcfg.latency_repeats)
        lap("budgets")
    checks, rows = gate_checks.thresholds(vcfg.thresholds, cand_metrics, champ_metrics, cfg.model.task)
    slice_checks, slice_results = gate_checks.slices(vcfg.slices, frame, target, predictions, cfg.model.task)
    checks += slice_checks
    checks += gate_checks.size(loaded.size_bytes, vcfg.max_model_size_mb)
    checks += gate_checks.latency(p95, vcfg.latency_rows, vcfg.max_latency_p95_ms)
    if not checks:
        raise InputError("validate: no checks configured; set validate.thresholds (and slices, budgets) in .mlci.yml")
    regression = cfg.model.task == "regression"
    residuals = None
    if regression:
        import numpy as np

        residuals = (
            frame[target].to_numpy(dtype=float) - np.asarray(predictions, dtype=float).reshape(len(frame), -1)[:, 0]
        ).tolist()
    gate = report.Gate(
        model=cfg.model.name,
        run_id=run_id,
        champion_version=None if champion is None else str(champion.version),
        champion_reused=reused,
        holdout=holdout,
        holdout_digest=digest,
        rows=rows,
        checks=checks,
        slices=slice_results,
        confusion=None if regression else _confusion(frame, target, predictions),
        residuals=residuals,
        notes=notes,
    )
    outcome = "passed" if gate.passed else "failed"
    junit = write_junit(ctx.report_dir / "junit.xml", f"mlci.validate.{cfg.model.name}", checks)
    html_file = report.write_html_report(ctx.report_dir / "validation.html", gate)
    md_file = ctx.report_dir / "summary.md"
    masking.write_text(md_file, report.markdown(gate))
    data = {
        "runId": run_id,
        "modelUri": model_uri,
        "holdoutDigest": digest,
        "candidate": cand_metrics,
        "champion": champ_metrics,
        "championVersion": gate.champion_version,
        "championMetricsReused": reused,
        "checks": [{"name": c.name, "passed": c.passed, "message": c.message} for c in checks],
        "modelSizeBytes": loaded.size_bytes,
        "latencyP95Ms": p95,
        "notes": notes,
    }
    metrics_file = ctx.report_dir / "validation.json"
    masking.write_json(metrics_file, data)
    with tracking.guard(srv, f"logging the validation to run {run_id}"):
        client.log_artifacts(run_id, str(ctx.report_dir), ARTIFACT_DIR)
        client.set_tag(run_id, STATUS_TAG, outcome)
        client.set_tag(run_id, HOLDOUT_TAG, digest)
        client.set_tag(run_id, METRICS_TAG, json.dumps(cand_metrics))
    lap("report")
    failing = [c for c in checks if not c.passed]
    outputs = {
        "runId": run_id,
        "modelUri": model_uri,
        "checks": report.outputs_table(gate),
        "metrics": cand_metrics,
        "championVersion": gate.champion_version,
        "championMetricsReused": reused,
        "holdoutDigest": digest,
        "timings": timings,
    }
    reports = [html_file, md_file, metrics_file, junit]
    against = "no champion yet, absolute thresholds only" if champion is None else f"vs champion v{champion.version}"
    if failing:
        summary = f"{len(failing)} of {len(checks)} checks failed ({against}): " + "; ".join(
            f"{c.name}: {c.message}" for c in failing
        )
        return StepResult("failed", summary, outputs, reports, junit)
    return StepResult("passed", f"{len(checks)} checks passed ({against})", outputs, reports, junit)
