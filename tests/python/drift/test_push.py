"""Drift gauges: names promtool accepts, pushed to a real Pushgateway, scraped by a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import generate_latest
from services.pushgateway import binary

from mlci.drift import check, push, reference
from mlci.errors import InfrastructureError
from mlci.monitoring import pushgateway


@pytest.fixture(scope="module")
def result() -> check.DriftResult:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"age": rng.normal(40, 9, 3000), "plan": rng.choice(["a", "b"], 3000)})
    current = pd.DataFrame({"age": rng.normal(60, 9, 3000), "plan": rng.choice(["a", "b"], 3000)})
    return check.compare(reference.compute(train), current, check.Thresholds(), "current.csv", 100_000)


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )


def test_promtool_accepts_our_exposition(result: check.DriftResult) -> None:
    text = generate_latest(push.registry(result, "churn")).decode()
    proc = promtool(text)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")
    assert "# TYPE mlci_drift_score gauge" in text and "# TYPE mlci_dataset_drift gauge" in text
    # promtool is not a rubber stamp: it rejects a counter without the _total suffix.
    rejected = promtool("# HELP bad a counter\n# TYPE bad counter\nbad 1\n")
    assert (rejected.returncode, rejected.stderr) == (3, 'bad counter metrics should have "_total" suffix\n')


def test_pushgateway_output_passes_promtool(result: check.DriftResult, pushgateway: Any) -> None:
    push.push(pushgateway.url, result, "promtool-model", "drift.json")
    with urllib.request.urlopen(f"{pushgateway.url}/metrics", timeout=5) as response:  # noqa: S310 - local service
        text = response.read().decode()
    assert 'mlci_dataset_drift{instance="",job="mlci_drift",model="promtool-model"} 1' in text  # 1 of 2 columns
    ours = "".join(
        line + "\n"
        for line in text.splitlines()
        if line.removeprefix("# HELP ").removeprefix("# TYPE ").startswith("mlci_")
    )
    proc = promtool(ours)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local service
        data: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return data


def test_prometheus_scrapes_the_gauges(result: check.DriftResult, pushgateway: Any, prometheus: Any) -> None:
    push.push(pushgateway.url, result, "scraped", "drift.json")
    promql = 'mlci_drift_score{model="scraped",column="age",statistic="wasserstein"}'
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        found = query(prometheus.url, promql)
        time.sleep(0.5)
    assert len(found) == 1, "Prometheus did not scrape the pushed gauge within 30 s"
    [age] = [c for c in result.columns if c.name == "age"]
    assert float(found[0]["value"][1]) == pytest.approx(age.stats.statistics["wasserstein"])
    assert found[0]["metric"]["job"] == "mlci_drift"
    [flag] = query(prometheus.url, 'mlci_drift_column{model="scraped",column="age"}')
    assert flag["value"][1] == "1"


def test_basic_auth_credentials_come_from_the_environment(
    result: check.DriftResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def capture(
        url: str, method: str, timeout: float | None, headers: list[Any], data: bytes, user: str, pw: str
    ) -> Any:
        seen.update(user=user, password=pw)
        raise OSError("stop here")

    monkeypatch.setattr("prometheus_client.exposition.basic_auth_handler", capture)
    monkeypatch.setenv(pushgateway.USER_ENV, "monitor")
    monkeypatch.setenv(pushgateway.PASSWORD_ENV, "s3cret-value")
    with pytest.raises(InfrastructureError) as err:
        push.push("http://127.0.0.1:9", result, "m", "drift.json")
    assert seen == {"user": "monitor", "password": "s3cret-value"}
    assert "s3cret-value" not in str(err.value)
