"""Prometheus metrics of the server, in a registry of its own (served at /metrics)."""

from __future__ import annotations

import collections
import numbers
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROW_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
VALUE_BUCKETS = (-1000.0, -100.0, -10.0, -1.0, 0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 10.0, 100.0, 1000.0)
INVOCATIONS = "/invocations"
INVOCATION_STATUSES = ("200", "400", "500", "503")  # what the server itself answers; alerts judge 5xx
MAX_LABELS = 50  # distinct prediction labels counted; more would explode the series count


class Metrics:
    def __init__(self) -> None:
        # `_created` series double the scrape for no use here.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter(
            "mlci_http_requests", "HTTP requests by path and status code.", ["path", "status"], registry=r
        )
        self.latency = Histogram(
            "mlci_http_request_duration_seconds",
            "Time from a request's arrival to its response, by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predict_latency = Histogram(
            "mlci_predict_duration_seconds",
            "Time of one model predict call (one batch of requests).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Histogram("mlci_request_rows", "Rows per /invocations request.", buckets=ROW_BUCKETS, registry=r)
        self.batch_requests = Histogram(
            "mlci_predict_batch_requests",
            "Requests combined into one predict call.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.labels = Counter("mlci_predictions", "Predicted labels (classifiers), by label.", ["label"], registry=r)
        self.values = Histogram(
            "mlci_prediction_value", "Predicted values (regressors).", buckets=VALUE_BUCKETS, registry=r
        )
        self.ready = Gauge("mlci_ready", "1 when the model is loaded, warmed up and not draining.", registry=r)
        self.captured = Counter("mlci_captured_rows", "Request rows written to the capture folder.", registry=r)
        self.model = Info("model", "The served model.", registry=r)
        self._seen: set[str] = set()
        # A series born at its first increment hides that increment from rate() and increase():
        # the first error burst after a start would never fire an alert or fail a gate.
        for status in INVOCATION_STATUSES:
            self.requests.labels(INVOCATIONS, status)
        self.latency.labels(INVOCATIONS)

    def predictions(self, items: list[Any]) -> None:
        """Count labels (int, str, bool predictions) or observe values (floats)."""
        counts: collections.Counter[str] = collections.Counter()
        for item in items:
            if isinstance(item, bool | str | numbers.Integral):
                counts[str(item)] += 1
            elif isinstance(item, numbers.Real):
                self.values.observe(float(item))
        for label, n in counts.items():
            if label not in self._seen:
                if len(self._seen) >= MAX_LABELS:
                    label = "other"
                else:
                    self._seen.add(label)
            self.labels.labels(label).inc(n)
