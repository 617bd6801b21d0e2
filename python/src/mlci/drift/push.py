"""Drift gauges pushed to a Prometheus Pushgateway, grouped by model so models never overwrite
each other: `mlci_drift_score{model,column,statistic}`, `mlci_drift_column{model,column}` (1 when
the column drifted), `mlci_dataset_drift{model}` and the time of the check."""

from __future__ import annotations

import time
from typing import Any

from mlci.drift.check import DriftResult
from mlci.errors import InfrastructureError, InputError

JOB = "mlci_drift"
TIMEOUT_SECONDS = 10


def registry(result: DriftResult, model: str) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    score = Gauge(
        "mlci_drift_score",
        "Drift statistic of a column, current data against the training reference",
        ["model", "column", "statistic"],
        registry=reg,
    )
    column = Gauge("mlci_drift_column", "1 when the column drifted, else 0", ["model", "column"], registry=reg)
    for c in result.columns:
        for name, value in c.stats.statistics.items():
            if value is not None:
                score.labels(model, c.name, name).set(value)
        score.labels(model, c.name, "null_fraction").set(c.stats.null_fraction[1])
        column.labels(model, c.name).set(1 if c.status == "drift" else 0)
    Gauge("mlci_dataset_drift", "1 when the dataset drifted, else 0", ["model"], registry=reg).labels(model).set(
        1 if result.dataset_drift else 0
    )
    Gauge("mlci_drift_share", "Share of columns that drifted", ["model"], registry=reg).labels(model).set(result.share)
    Gauge("mlci_drift_last_run_timestamp_seconds", "When the drift check ran", ["model"], registry=reg).labels(
        model
    ).set(time.time())
    return reg


def push(url: str, result: DriftResult, model: str, written: str) -> None:
    """Push the gauges; a failure is an infrastructure error that says where the results are."""
    from mlci.monitoring import pushgateway

    try:
        pushgateway.push(url, JOB, registry(result, model), {"model": model}, TIMEOUT_SECONDS)
    except InputError:
        raise  # a URL whose user info is not user:password
    except Exception as err:  # urllib raises URLError, HTTPError, OSError, ValueError for a bad URL
        raise InfrastructureError(
            f"pushgateway {url}", f"cannot push the drift gauges ({err}); the drift results are in {written}"
        ) from None
