"""The monitor's live checks: how each window of metrics is judged (fail-closed, every breach
named), and reading them from a real Prometheus, including a model nothing serves and a query
Prometheus refuses."""

from __future__ import annotations

import pytest
from services.monitored import Monitored

from mlci.config import MonitorSlo
from mlci.errors import InfrastructureError
from mlci.monitoring import live, prometheus

SLO = MonitorSlo(window_minutes=15, min_requests=50, max_error_rate=0.01, max_p99_ms=500)


@pytest.mark.parametrize(
    ("metrics", "breaches", "note"),
    [
        (live.Live(0, 0, 0, 0, None), [("down", "no scrape target has this model's label")], None),
        (live.Live(2, 0, 0, 0, None), [("down", "all 2 scrape targets are down")], None),
        (live.Live(2, 1, 0.3, 0, None), [("no_traffic", "no /invocations requests in 15 min")], None),
        (live.Live(2, 2, 20, 20, 900.0), [], "20 requests in 15 min (< 50): error rate and p99 not judged"),
        (live.Live(2, 2, 200, 1, 120.0), [], None),
        (live.Live(2, 2, 200, 4, 120.0), [("error_rate", "2.0% 5xx of 200 requests in 15 min (> 1.0%)")], None),
        (live.Live(2, 2, 200, 0, 640.0), [("latency", "p99 640 ms in 15 min (> 500 ms)")], None),
        (live.Live(2, 2, 200, 0, None), [("latency", "no latency data for 200 requests in 15 min")], None),
        (
            live.Live(1, 1, 100, 50, 700.0),
            [("error_rate", "50.0% 5xx of 100 requests"), ("latency", "p99 700 ms")],
            None,
        ),
    ],
)
def test_each_window_is_judged_fail_closed(
    metrics: live.Live, breaches: list[tuple[str, str]], note: str | None
) -> None:
    found, notes = live.evaluate(metrics, SLO)
    assert [b.check for b in found] == [check for check, _ in breaches]
    for breach, (_, words) in zip(found, breaches, strict=True):
        assert breach.detail.startswith(words), breach.detail
    assert notes == ([note] if note else [])


def test_a_model_nothing_serves_is_down_on_a_real_prometheus(monitored: Monitored) -> None:
    metrics = live.read(monitored.prometheus, 'no"such\\model', 15)
    assert (metrics.targets, metrics.up, metrics.requests, metrics.versions) == (0, 0, 0.0, [])
    assert [b.check for b in live.evaluate(metrics, SLO)[0]] == ["down"]


def test_the_served_model_and_its_version_are_read(monitored: Monitored) -> None:
    metrics = live.read(monitored.prometheus, "demo", 15)
    assert (metrics.targets, metrics.up, metrics.versions) == (1, 1, ["1"])


def test_a_query_prometheus_refuses_names_the_server_and_its_error(monitored: Monitored) -> None:
    with pytest.raises(InfrastructureError) as caught:
        prometheus.query(monitored.prometheus, "sum(")
    assert str(caught.value).startswith(f"prometheus {monitored.prometheus}: query 'sum(' answered HTTP 400: ")
    assert "parse error" in str(caught.value)
