"""Live metrics of one model's servers, read from Prometheus, and the SLO checks on them.

Series are selected by the `model` target label that the generated scrape config
(`mlci monitoring-assets`) gives every server of a model. Fail-closed: no scrape target is a
breach ("down"), and a window with too few requests is not judged on errors or latency, which
the summary says instead of passing them silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlci.monitoring import prometheus

REQUESTS = "mlci_http_requests_total"
BUCKETS = "mlci_http_request_duration_seconds_bucket"
INFO = "model_info"
PATH = "/invocations"


@dataclass
class Live:
    targets: int  # scrape targets of the model
    up: int  # of which answered the last scrape
    requests: float  # /invocations requests in the window
    errors: float  # of which 5xx
    p99_ms: float | None
    versions: list[str] = field(default_factory=list)  # model versions in service (model_info)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class Breach:
    check: str  # down | no_traffic | error_rate | latency | drift
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def selector(model: str, *extra: str) -> str:
    return "{" + ",".join([f"model={prometheus.string(model)}", *extra]) + "}"


def read(url: str, model: str, window_minutes: int) -> Live:
    span = f"[{int(window_minutes)}m]"
    invocations = selector(model, f'path="{PATH}"')
    ups = prometheus.query(url, f"up{selector(model)}")
    requests = prometheus.one(url, f"sum(increase({REQUESTS}{invocations}{span}))") or 0.0
    errors_sel = selector(model, f'path="{PATH}"', 'status=~"5.."')
    errors = prometheus.one(url, f"sum(increase({REQUESTS}{errors_sel}{span}))") or 0.0
    p99 = prometheus.one(url, f"histogram_quantile(0.99, sum by (le) (rate({BUCKETS}{invocations}{span})))")
    versions = sorted({s[0].get("version", "") for s in prometheus.query(url, f"{INFO}{selector(model)}")} - {""})
    p99_ms = None if p99 is None or math.isnan(p99) else p99 * 1000
    return Live(len(ups), sum(1 for _, v in ups if v >= 1), requests, errors, p99_ms, versions)


def evaluate(live: Live, slo: Any) -> tuple[list[Breach], list[str]]:
    """Breaches of the SLOs, and notes on what could not be judged."""
    breaches: list[Breach] = []
    notes: list[str] = []
    if live.targets == 0:
        breaches.append(Breach("down", "no scrape target has this model's label: nothing is serving it"))
        return breaches, notes
    if live.up == 0:
        breaches.append(Breach("down", f"all {live.targets} scrape targets are down"))
        return breaches, notes
    window = f"in {slo.window_minutes} min"
    if live.requests < 0.5:  # increase() extrapolates: 0.3 is no request
        breaches.append(Breach("no_traffic", f"no /invocations requests {window}"))
        return breaches, notes
    if live.requests < slo.min_requests:
        notes.append(f"{live.requests:.0f} requests {window} (< {slo.min_requests}): error rate and p99 not judged")
        return breaches, notes
    rate = live.error_rate or 0.0
    if rate > slo.max_error_rate:
        detail = f"{rate:.1%} 5xx of {live.requests:.0f} requests {window} (> {slo.max_error_rate:.1%})"
        breaches.append(Breach("error_rate", detail))
    if live.p99_ms is None:
        breaches.append(Breach("latency", f"no latency data for {live.requests:.0f} requests {window}"))
    elif live.p99_ms > slo.max_p99_ms:
        breaches.append(Breach("latency", f"p99 {live.p99_ms:.0f} ms {window} (> {slo.max_p99_ms:g} ms)"))
    return breaches, notes
