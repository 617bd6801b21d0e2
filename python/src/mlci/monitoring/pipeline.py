"""The pipeline watches itself: every step pushes `mlci_step_duration_seconds{step,model,status}`
and the time it ended to the Pushgateway in `monitoring.pushgateway_url`, grouped by model and
step (each push replaces that step's last result). A gateway that is down costs a warning and
at most `TIMEOUT_SECONDS`, never the step's outcome."""

from __future__ import annotations

import time
from typing import Any

from mlci import log

JOB = "mlci_pipeline"
TIMEOUT_SECONDS = 3


def registry(step: str, model: str, status: str, seconds: float) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    labels = ["step", "model", "status"]
    duration = Gauge("mlci_step_duration_seconds", "Duration of the last run of an mlci step", labels, registry=reg)
    duration.labels(step, model, status).set(seconds)
    ended = Gauge("mlci_step_last_run_timestamp_seconds", "When an mlci step last ended", labels, registry=reg)
    ended.labels(step, model, status).set(time.time())
    return reg


def push(url: str, step: str, model: str, status: str, seconds: float) -> None:
    from mlci.monitoring import pushgateway

    try:
        reg = registry(step, model, status, seconds)
        pushgateway.push(url, JOB, reg, {"model": model, "step": step}, TIMEOUT_SECONDS)
    except Exception as err:  # the step's own result matters more than its metric
        log.warn(f"could not push the step duration to pushgateway {url} ({type(err).__name__}: {err})")
