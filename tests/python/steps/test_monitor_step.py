"""`mlci monitor` on a live deployment (real server, Prometheus, Pushgateway), the retrain
trigger against recorded Jenkins responses, the registry-tag cooldown, the webhook, and the
faults: Prometheus unreachable, missing reference, failing webhook."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from services.jenkins_recorded import TOKEN, USER, Jenkins
from services.model_store import COLUMNS, Store, frame
from services.monitored import Monitored, http, query, wait_for
from services.ports import refused_url

from conftest import write
from mlci import protocol
from mlci.drift import reference
from mlci.monitoring import cooldown, jenkins, notify

TRAIN = [[i * 0.1, i % 9, ["red", "green", "blue"][i % 3], (i % 4) * 0.5] for i in range(300)]
DRIFTED = [[5 + i * 0.1, 8, "blue", 9.0] for i in range(300)]


class Webhook:
    def __init__(self, status: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-path-abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(200)
    yield hook
    hook.server.shutdown()


@pytest.fixture
def repo(project: Path, model_store: Store, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `demo` project with a drifted sample of captured inputs; the registry's cooldown cleared."""
    reference.save(reference.compute(frame(TRAIN)), project / "ref.json")
    (project / "captured").mkdir()
    frame(DRIFTED).to_json(project / "captured" / "inputs-1.jsonl", orient="records", lines=True)
    monkeypatch.setenv(jenkins.USER_ENV, USER)
    monkeypatch.setenv(jenkins.TOKEN_ENV, TOKEN)
    from mlflow import MlflowClient

    client = MlflowClient(model_store.tracking_uri, model_store.tracking_uri)
    for key in (cooldown.AT, cooldown.REASON, cooldown.VERSION, cooldown.QUEUE):
        client.delete_registered_model_tag("demo", key)
    return project


def configure(repo: Path, store: Store, prometheus: str | None, pushgateway: str, **monitoring: Any) -> None:
    mon = {"pushgateway_url": pushgateway, "retrain_job": "retrain-churn", "slo": {"min_requests": 1},
           "drift": {"reference": "ref.json", "current": "captured"}, **monitoring}  # fmt: skip
    if prometheus:
        mon["prometheus_url"] = prometheus
    doc = {"version": 1, "model": {"name": "demo", "task": "classification"},
           "mlflow": {"tracking_uri": store.tracking_uri}, "monitoring": mon}  # fmt: skip
    write(repo / ".mlci.yml", json.dumps(doc))


def test_drift_queues_one_retrain_then_the_cooldown_holds(
    repo: Path, model_store: Store, monitored: Monitored, jenkins_recorded: Jenkins, webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(notify.URL_ENV, webhook.url)
    configure(repo, model_store, monitored.prometheus, monitored.pushgateway, jenkins_url=jenkins_recorded.url)
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": DRIFTED[:5]}}).encode()
    # Prometheus counts increases from a counter's first sample: one request, a scrape, then more.
    assert http(monitored.server + "/invocations", body)[0] == 200
    ok = 'mlci_http_requests_total{model="demo",path="/invocations",status="200"}'
    wait_for(lambda: query(monitored.prometheus, ok), 20, "the first request in Prometheus")
    for _ in range(3):
        assert http(monitored.server + "/invocations", body)[0] == 200
    seen = 'sum(increase(mlci_http_requests_total{model="demo",path="/invocations",status="200"}[15m])) > 1'
    wait_for(lambda: query(monitored.prometheus, seen), 20, "traffic in Prometheus")
    started = time.time()
    code, result = protocol.execute("monitor")
    assert (code, result["status"]) == (1, "failed"), result["summary"]
    out = result["outputs"]
    assert out["breaches"] == ["drift"] and out["retrainTriggered"] is True and out["queueItem"] == 42
    assert out["modelVersion"] == "1" and out["requests"] is not None
    assert out["retrainDecision"].startswith("triggered retrain job retrain-churn: drift: dataset drift")
    (build,) = jenkins_recorded.builds()
    assert build.at - started <= 60  # alert condition to queued build
    params = {k: v[0] for k, v in build.query.items()}
    assert params["MODEL_NAME"] == "demo" and params["MODEL_VERSION"] == "1"
    assert params["REASON"].startswith("drift: dataset drift") and "columns drifted" in params["DRIFT_SUMMARY"]
    from mlflow import MlflowClient

    tags = MlflowClient(model_store.tracking_uri, model_store.tracking_uri).get_registered_model("demo").tags
    assert tags[cooldown.REASON] == params["REASON"] and tags[cooldown.QUEUE] == "42"
    (body,) = webhook.bodies
    assert body["model"] == "demo" and body["retrain"]["triggered"] is True and out["notified"] is True
    assert webhook.url not in json.dumps(result)
    # The monitor's gauges reach Prometheus, and the drift alert fires there.
    wait_for(lambda: query(monitored.prometheus, 'mlci_monitor_retrain_triggered{model="demo"} == 1'), 20, "gauge")
    firing = 'ALERTS{alertname="MlciDatasetDrift",model="demo",alertstate="firing"}'
    wait_for(lambda: query(monitored.prometheus, firing), 20, "MlciDatasetDrift firing")
    # Run again, twice: the cooldown holds and Jenkins gets no second build.
    for _ in range(2):
        code, result = protocol.execute("monitor")
        assert code == 1 and result["outputs"]["retrainTriggered"] is False
        assert result["outputs"]["retrainDecision"].startswith("cooldown: retrain of demo already triggered (drift:")
    assert len(jenkins_recorded.builds()) == 1


def test_an_error_burst_fires_its_alert_and_is_a_breach_that_does_not_retrain(
    repo: Path, model_store: Store, erroring: Monitored, jenkins_recorded: Jenkins
) -> None:
    frame(TRAIN).to_json(repo / "captured" / "inputs-1.jsonl", orient="records", lines=True)  # no drift
    configure(repo, model_store, erroring.prometheus, erroring.pushgateway, jenkins_url=jenkins_recorded.url,
              slo={"min_requests": 50})  # fmt: skip
    good = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": TRAIN[:3]}}).encode()
    poisoned = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[-1000.0, 1, "red", 0.5]]}}).encode()
    assert http(erroring.server + "/invocations", good)[0] == 200
    ok = 'mlci_http_requests_total{model="demo",path="/invocations",status="200"}'
    wait_for(lambda: query(erroring.prometheus, ok), 20, "the first request in Prometheus")
    statuses = [http(erroring.server + "/invocations", poisoned if i % 6 == 0 else good)[0] for i in range(60)]
    assert statuses.count(500) == 10 and statuses.count(200) == 50
    firing = 'ALERTS{alertname="MlciHighErrorRate",model="demo",target="production",alertstate="firing"}'
    wait_for(lambda: query(erroring.prometheus, firing), 30, "MlciHighErrorRate firing")
    code, result = protocol.execute("monitor")
    assert (code, result["status"]) == (1, "failed"), result["summary"]
    out = result["outputs"]
    assert out["breaches"] == ["error_rate"] and out["retrainTriggered"] is False
    assert 0.1 < out["errorRate"] < 0.25 and out["requests"] >= 50  # 10 of 61, as Prometheus extrapolates
    assert result["summary"].startswith("error_rate: ") and "5xx of" in result["summary"]
    assert out["retrainDecision"] == "not triggered: error_rate not in monitoring.retrain_on (drift)"
    assert jenkins_recorded.requests == []


def test_without_jenkins_url_it_says_what_it_would_do(
    repo: Path, model_store: Store, pushgateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JENKINS_URL", raising=False)
    configure(repo, model_store, None, pushgateway.url)
    code, result = protocol.execute("monitor")
    assert code == 1
    assert result["outputs"]["retrainDecision"].startswith("would trigger retrain job retrain-churn: drift: dataset")
    assert "live metrics not checked (monitoring.prometheus_url not set)" in result["summary"]


def test_prometheus_unreachable_is_exit_3_and_triggers_nothing(
    repo: Path, model_store: Store, pushgateway: Any, jenkins_recorded: Jenkins
) -> None:
    with refused_url() as dead:
        configure(repo, model_store, dead, pushgateway.url, jenkins_url=jenkins_recorded.url)
        code, result = protocol.execute("monitor")
    assert code == 3 and result["summary"].startswith(f"prometheus {dead}: unreachable")
    assert jenkins_recorded.requests == []


def test_jenkins_unreachable_is_exit_3_keeps_the_findings_and_no_cooldown(
    repo: Path, model_store: Store, pushgateway: Any
) -> None:
    for job in ("mlci_monitor", "mlci_drift"):
        delete = urllib.request.Request(f"{pushgateway.url}/metrics/job/{job}/model/demo", method="DELETE")  # noqa: S310
        urllib.request.urlopen(delete, timeout=10).close()  # noqa: S310 - the local gateway
    with refused_url() as dead:
        configure(repo, model_store, None, pushgateway.url, jenkins_url=dead)
        code, result = protocol.execute("monitor")
    assert code == 3 and result["summary"].startswith(f"jenkins {dead}: cannot queue retrain-churn: unreachable")
    report = json.loads((repo / "reports" / "monitor" / "monitor.json").read_text())
    assert report["breaches"][0]["check"] == "drift" and report["retrain"]["decision"].startswith("error: jenkins")
    from mlflow import MlflowClient

    tags = MlflowClient(model_store.tracking_uri, model_store.tracking_uri).get_registered_model("demo").tags
    assert cooldown.AT not in tags  # nothing was queued, so the next run tries again
    gauges = http(pushgateway.url + "/metrics")[1].decode()
    assert 'mlci_monitor_breach{check="drift",instance="",job="mlci_monitor",model="demo"} 1' in gauges
    assert 'mlci_dataset_drift{instance="",job="mlci_drift",model="demo"} 1' in gauges


def test_a_pushgateway_that_is_down_is_reported_and_the_retrain_stands(
    repo: Path, model_store: Store, jenkins_recorded: Jenkins
) -> None:
    with refused_url() as dead:
        configure(repo, model_store, None, dead, jenkins_url=jenkins_recorded.url)
        code, result = protocol.execute("monitor")
    assert code == 1 and result["outputs"]["retrainTriggered"] is True
    assert f"pushgateway {dead} failed: URLError" in result["summary"]
    assert len(jenkins_recorded.builds()) == 1


def test_missing_reference_is_exit_2(
    repo: Path, model_store: Store, pushgateway: Any, jenkins_recorded: Jenkins
) -> None:
    configure(repo, model_store, None, pushgateway.url, jenkins_url=jenkins_recorded.url)
    (repo / "ref.json").unlink()
    code, result = protocol.execute("monitor")
    assert code == 2 and "ref.json: drift reference not found" in result["summary"]
    assert jenkins_recorded.requests == []


def test_failing_webhook_is_reported_and_loses_nothing(
    repo: Path, model_store: Store, pushgateway: Any, jenkins_recorded: Jenkins, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook(500)
    monkeypatch.setenv(notify.URL_ENV, hook.url)
    configure(repo, model_store, None, pushgateway.url, jenkins_url=jenkins_recorded.url, webhook_format="slack")
    code, result = protocol.execute("monitor")
    hook.server.shutdown()
    assert code == 1 and result["outputs"]["retrainTriggered"] is True and result["outputs"]["notified"] is False
    assert "notification failed: webhook (MLCI_WEBHOOK_URL) answered HTTP 500" in result["summary"]
    assert hook.url not in json.dumps(result)
    (body,) = hook.bodies
    assert (
        body["text"].startswith("*demo* (version unknown): drift: dataset drift")
        and body["blocks"][0]["type"] == "section"
    )
    report = json.loads((repo / "reports" / "monitor" / "monitor.json").read_text())
    assert report["retrain"]["queueItem"] == 42 and report["problems"] == [
        "notification failed: webhook (MLCI_WEBHOOK_URL) answered HTTP 500"
    ]
