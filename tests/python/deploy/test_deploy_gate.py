"""The deploy gate's arithmetic on Prometheus text and probe results: fail-closed (no data and
too few requests never pass), canary vs stable and vs absolute SLOs, every reason named."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from services.model_store import COLUMNS, ROWS
from services.monitored import Monitored, http, query, wait_for

from mlci.deploy import gate

BOUNDS = ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0")


def scrape(ok: int, errors: int = 0, seconds: float = 0.004, other_path: int = 0) -> str:
    """Server metrics as the model server exposes them: `ok` + `errors` requests of `seconds`."""
    total = ok + errors
    lines = [
        "# HELP mlci_http_requests_total HTTP requests by path and status code.",
        "# TYPE mlci_http_requests_total counter",
        f'mlci_http_requests_total{{path="/invocations",status="200"}} {float(ok)}',
        f'mlci_http_requests_total{{path="/invocations",status="500"}} {float(errors)}',
        f'mlci_http_requests_total{{path="/readyz",status="200"}} {float(other_path)}',
    ]
    for bound in (*BOUNDS, "+Inf"):
        inside = total if bound == "+Inf" or seconds <= float(bound) else 0
        lines.append(f'mlci_http_request_duration_seconds_bucket{{le="{bound}",path="/invocations"}} {float(inside)}')
    return "\n".join(lines) + "\n"


SLO = gate.Slo(min_requests=50, max_error_rate=0.01, max_error_rate_increase=0.005, max_p99_ms=500)


def window(before: str, after: str) -> gate.Observation:
    return gate.from_metrics([(before, after)])


def test_a_healthy_canary_passes() -> None:
    canary = window(scrape(100), scrape(300))
    stable = window(scrape(1000), scrape(3000))
    verdict = gate.evaluate(canary, stable, SLO)
    assert verdict.passed, verdict.summary
    assert canary.requests == 200 and canary.errors == 0
    assert canary.p99_ms is not None and 2.5 <= canary.p99_ms <= 5.0  # inside the 2.5-5 ms bucket


def test_no_traffic_never_passes() -> None:
    verdict = gate.evaluate(window(scrape(10), scrape(10)), None, SLO)
    assert not verdict.passed
    assert "0 requests (minimum 50)" in verdict.summary
    assert "error rate no data" in verdict.summary and "p99 no data" in verdict.summary


def test_too_few_requests_fail_even_when_all_succeeded() -> None:
    verdict = gate.evaluate(window(scrape(0), scrape(49)), None, SLO)
    assert not verdict.passed and "49 requests (minimum 50)" in verdict.summary


def test_five_percent_errors_fail_against_the_slo_and_the_stable_side() -> None:
    canary = window(scrape(0), scrape(190, errors=10))
    stable = window(scrape(0), scrape(2000))
    verdict = gate.evaluate(canary, stable, SLO)
    failed = {c.name for c in verdict.checks if not c.passed}
    assert failed == {"error_rate", "error_rate_vs_stable"}
    assert "error rate 5.00% (limit 1.00%)" in verdict.summary


def test_300_ms_slower_fails_p99_and_p50_against_stable_even_within_the_absolute_slo() -> None:
    slo = gate.Slo(min_requests=50, max_p99_ms=1000)
    canary = window(scrape(0), scrape(200, seconds=0.304))
    stable = window(scrape(0), scrape(2000, seconds=0.004))
    verdict = gate.evaluate(canary, stable, slo)
    failed = {c.name for c in verdict.checks if not c.passed}
    assert failed == {"p99_vs_stable", "p50_vs_stable"}


def test_a_restarted_server_counts_from_zero_like_prometheus_increase() -> None:
    assert window(scrape(500), scrape(120)).requests == 120


def test_other_paths_are_not_traffic() -> None:
    assert window(scrape(0, other_path=0), scrape(0, other_path=900)).requests == 0


def test_probe_results_are_judged_the_same_way() -> None:
    probe = {"burst": {"requests": 200, "errors": 0, "p50_ms": 4.0, "p99_ms": 9.0}}
    slow = {"burst": {"requests": 200, "errors": 0, "p50_ms": 305.0, "p99_ms": 320.0}}
    assert gate.evaluate(gate.from_probe(probe), gate.from_probe(probe), SLO).passed
    verdict = gate.evaluate(gate.from_probe(slow), gate.from_probe(probe), SLO)
    assert not verdict.passed and "p50 305.0 ms vs stable 4.0 ms" in verdict.summary
    # A slot that never answered has no burst: no data, no pass.
    assert not gate.evaluate(gate.from_probe({}), None, SLO).passed


def test_a_probe_with_failed_requests_says_what_they_were() -> None:
    # On a busy machine "error rate 3.33%" alone does not tell a timeout from a 500.
    burst = {"requests": 120, "errors": 4, "statuses": {"200": 116, "500": 1}, "connection_errors": {"TimeoutError": 3}}
    verdict = gate.evaluate(gate.from_probe({"burst": {**burst, "p50_ms": 4.0, "p99_ms": 9.0}}), None, SLO)
    assert not verdict.passed
    assert "error rate 3.33% (limit 1.00%) [HTTP 500 x1, TimeoutError x3]" in verdict.summary, verdict.summary


@pytest.mark.parametrize(
    ("doc", "code", "text"),
    [
        (
            {
                "kind": "metrics",
                "candidate": [{"before": scrape(0), "after": scrape(100)}],
                "slo": {"min_requests": 50},
            },
            0,
            "gate passed",
        ),
        ({"kind": "metrics", "candidate": [{"before": scrape(0), "after": scrape(10)}], "slo": {}}, 1, "10 requests"),
        ({"kind": "nonsense"}, 2, "kind must be"),
        ({"kind": "probe", "candidate": {}, "slo": {"max_latency": 1}}, 2, "unknown SLO keys: max_latency"),
        (
            {"kind": "prometheus", "url": "http://127.0.0.1:9", "candidate": ["a:1"], "seconds": 5, "slo": {}},
            1,
            "unreachable",
        ),
    ],
)
def test_the_command_line_the_playbooks_run(doc: dict[str, object], code: int, text: str) -> None:
    assert text in gate_command(doc, code)["summary"]


def gate_command(doc: dict[str, object], code: int) -> dict[str, Any]:
    """`python -m mlci.deploy.gate` as the playbooks run it; its verdict, once its exit is `code`."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlci.deploy.gate"], input=json.dumps(doc), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    verdict: dict[str, Any] = json.loads(proc.stdout)
    return verdict


def test_the_playbooks_prometheus_gate_on_a_real_prometheus(monitored: Monitored) -> None:
    """The on-prem canary with `mlci_server_prometheus_url` (and the Kubernetes one) select the
    slots by an instance regex: dots and the port must survive PromQL's string escaping."""
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}).encode()
    assert all(http(monitored.server + "/invocations", body)[0] == 200 for _ in range(80))
    instance = monitored.server.removeprefix("http://")
    seen = f'sum(increase(mlci_http_requests_total{{instance="{instance}",path="/invocations"}}[60s])) >= 60'
    wait_for(lambda: query(monitored.prometheus, seen), 20, "the requests in Prometheus")
    doc = {"kind": "prometheus", "url": monitored.prometheus, "candidate": [instance], "seconds": 60,
           "slo": {"min_requests": 50}}  # fmt: skip
    assert gate_command(doc, 0)["summary"].startswith("gate passed")
