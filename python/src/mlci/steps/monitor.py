"""`mlci monitor`: one scheduled look at a deployed model, and the feedback loop it closes.

Live metrics from Prometheus (servers up, traffic, 5xx share, p99) and the captured request
inputs against the training reference (the drift check of `mlci drift`) are compared with the
SLOs; the results go to the Pushgateway and to reports/monitor/monitor.json. A breach listed in
`monitoring.retrain_on` queues the retrain job (at most once per model per cooldown, kept as
registry tags) and every breach is posted to the webhook. Order matters: everything is read
before anything is triggered, so an unreachable Prometheus (exit 3) or a missing reference
(exit 2) never starts a retrain; a failing webhook is reported and loses nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mlci import log, masking
from mlci.drift import check, push
from mlci.errors import InputError, MlciError
from mlci.monitoring import cooldown, jenkins, live, notify, pushgateway
from mlci.step import StepContext, StepResult
from mlci.steps import drift as drift_step

JOB = "mlci_monitor"
CHECKS = ("down", "no_traffic", "error_rate", "latency", "drift")


def _drift(ctx: StepContext) -> tuple[check.DriftResult | None, str]:
    if not ctx.config.monitoring.drift.current:
        return None, "drift not checked (monitoring.drift.current not set)"
    result, _, _ = drift_step.measure(ctx)
    drifted = ", ".join(f"{c.name} ({c.reasons[0]})" for c in result.drifted) or "none"
    text = f"{len(result.drifted)} of {len(result.columns)} columns drifted ({result.share:.0%}): {drifted}"
    return result, text


def _gauges(model: str, breaches: list[live.Breach], triggered: bool) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    breach = Gauge("mlci_monitor_breach", "1 when the check crossed its threshold in the last monitor run",
                   ["model", "check"], registry=reg)  # fmt: skip
    failed = {b.check for b in breaches}
    for name in CHECKS:
        breach.labels(model, name).set(1 if name in failed else 0)
    Gauge("mlci_monitor_retrain_triggered", "1 when the last monitor run queued a retrain", ["model"],
          registry=reg).labels(model).set(1 if triggered else 0)  # fmt: skip
    Gauge("mlci_monitor_last_run_timestamp_seconds", "When the monitor last ran", ["model"], registry=reg).labels(
        model
    ).set(time.time())
    return reg


def _push(url: str, model: str, drift: check.DriftResult | None, breaches: list[live.Breach], triggered: bool) -> str:
    """Push drift and monitor gauges; return '' or what failed (the monitor's decision stands)."""
    try:
        pushgateway.push(url, JOB, _gauges(model, breaches, triggered), {"model": model}, push.TIMEOUT_SECONDS)
        if drift is not None:
            pushgateway.push(url, push.JOB, push.registry(drift, model), {"model": model}, push.TIMEOUT_SECONDS)
    except Exception as err:  # urllib's errors; reported, not fatal: the retrain decision matters more
        log.warn(f"could not push monitor gauges to pushgateway {url}: {err}")
        return f"pushgateway {url} failed: {type(err).__name__}"
    return ""


def _retrain(ctx: StepContext, breaches: list[live.Breach], version: str | None, drift_text: str) -> dict[str, Any]:
    """Decide, and act on, the retrain; the decision is always said in words."""
    mon = ctx.config.monitoring
    model = ctx.config.model.name
    reasons = [str(b) for b in breaches if b.check in mon.retrain_on]
    if not reasons:
        others = sorted({b.check for b in breaches})
        if others:
            listed = ", ".join(mon.retrain_on) or "nothing"
            return {"decision": f"not triggered: {', '.join(others)} not in monitoring.retrain_on ({listed})",
                    "triggered": False}  # fmt: skip
        return {"decision": "not needed", "triggered": False}
    reason = "; ".join(reasons)
    job = mon.retrain_job
    if not job:
        return {"decision": f"not configured: would retrain ({reason}) but monitoring.retrain_job is not set",
                "triggered": False}  # fmt: skip
    url = mon.jenkins_url or os.environ.get("JENKINS_URL")
    registry = cooldown.Registry(ctx.config, ctx.project_dir)
    last = registry.last(model)
    now = time.time()
    if last is not None and last.holds(mon.cooldown_hours, now):
        return {
            "decision": f"cooldown: retrain of {model} already triggered ({last.reason}); "
            f"next allowed after {last.until(mon.cooldown_hours)}",
            "triggered": False,
        }
    version = version or registry.champion(model)
    if not url:
        return {"decision": f"would trigger retrain job {job}: {reason} (no Jenkins URL: set "
                "monitoring.jenkins_url or JENKINS_URL)", "triggered": False}  # fmt: skip
    params = dict(zip(jenkins.PARAMETERS, [reason, model, version or "", drift_text[:1000]], strict=True))
    queued = jenkins.trigger(url, job, params)
    registry.record(model, now, reason, version, queued.queue_item)
    return {
        "decision": f"triggered retrain job {job}: {reason}",
        "triggered": True,
        "queueItem": queued.queue_item,
        "queueUrl": queued.location,
    }


def _write(path: Path, doc: dict[str, Any]) -> Path:
    return masking.write_json(path, doc)


def run(ctx: StepContext) -> StepResult:
    mon = ctx.config.monitoring
    model = ctx.config.model.name
    if not mon.prometheus_url and not mon.drift.current:
        raise InputError("monitoring: set prometheus_url, drift.current or both; there is nothing to monitor")
    metrics: live.Live | None = None
    breaches: list[live.Breach] = []
    notes: list[str] = []
    if mon.prometheus_url:
        with log.Status(f"reading live metrics from {mon.prometheus_url}"):
            metrics = live.read(mon.prometheus_url, model, mon.slo.window_minutes)
        breaches, notes = live.evaluate(metrics, mon.slo)
    else:
        notes.append("live metrics not checked (monitoring.prometheus_url not set)")
    drift, drift_text = _drift(ctx)
    if drift is None:
        notes.append(drift_text)
    elif drift.dataset_drift:
        breaches.append(live.Breach("drift", f"dataset drift: {drift_text}"))
    version = metrics.versions[-1] if metrics and metrics.versions else None
    summary = "; ".join(map(str, breaches)) or "all checks within thresholds"
    doc: dict[str, Any] = {
        "model": model,
        "modelVersion": version,
        "summary": summary,
        "breaches": [{"check": b.check, "detail": b.detail} for b in breaches],
        "notes": notes,
        "live": None if metrics is None else vars(metrics),
        "drift": None if drift is None else {"datasetDrift": drift.dataset_drift, "summary": drift_text},
        "retrain": {"decision": "not decided", "triggered": False},
    }
    report = ctx.report_dir / "monitor.json"
    try:
        doc["retrain"] = _retrain(ctx, breaches, version, drift_text)
    except MlciError as err:
        doc["retrain"] = {"decision": f"error: {err}", "triggered": False}
        if mon.pushgateway_url:  # the breaches still reach Prometheus and its alerts
            _push(mon.pushgateway_url, model, drift, breaches, False)
        _write(report, doc)
        err.details.append(f"the monitor's findings are in {os.path.relpath(report)}")
        raise
    log.info(f"retrain: {doc['retrain']['decision']}")
    problems = []
    if mon.pushgateway_url:
        pushed = _push(mon.pushgateway_url, model, drift, breaches, bool(doc["retrain"]["triggered"]))
        if pushed:
            problems.append(pushed)
    if breaches and notify.url():
        failed = notify.send(doc, mon.webhook_format)
        doc["notified"] = failed is None
        if failed:
            log.warn(f"notification failed: {failed}")
            problems.append(f"notification failed: {failed}")
    doc["problems"] = problems
    _write(report, doc)
    outputs = {
        "breaches": [b.check for b in breaches],
        "retrainDecision": doc["retrain"]["decision"],
        "retrainTriggered": doc["retrain"]["triggered"],
        "queueItem": doc["retrain"].get("queueItem"),
        "modelVersion": version,
        "datasetDrift": bool(drift and drift.dataset_drift),
        "requests": None if metrics is None else round(metrics.requests, 1),
        "errorRate": None if metrics is None or metrics.error_rate is None else round(metrics.error_rate, 5),
        "p99Ms": None if metrics is None or metrics.p99_ms is None else round(metrics.p99_ms, 1),
        "notified": doc.get("notified", False),
    }
    tail = "".join(f"; {p}" for p in problems + notes)
    return StepResult(
        "failed" if breaches else "passed", f"{summary}; retrain: {doc['retrain']['decision']}{tail}", outputs, [report]
    )
