"""A monitored deployment on this machine: the real model server (`mlci serve` on the demo
model, capturing request inputs) and a real Prometheus that scrapes it with the labels the
generated scrape config gives (`model`, `target`, ...), scrapes the Pushgateway, and evaluates
the bundled alert rules every second. `erroring` is the same around a model that fails on
poisoned rows, for an error burst."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mlci.monitoring import assets
from services.model_store import Store
from services.ports import free_port
from services.pushgateway import Service, _start, binary

MLCI = Path(sys.executable).parent / "mlci"


@dataclass(frozen=True)
class Monitored:
    server: str  # the model server's base URL
    prometheus: str
    pushgateway: str
    capture: Path  # where the server writes sampled request rows


def http(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - local services
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen within {seconds}s")


def query(prometheus: str, promql: str) -> list[dict[str, object]]:
    status, body = http(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "success", (promql, doc)
    return list(doc["data"]["result"])


@pytest.fixture(scope="session")
def monitored(
    model_store: Store, pushgateway: Service, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitored]:
    with watched(model_store.model_dir, tmp_path_factory.mktemp("monitored"), pushgateway) as deployment:
        yield deployment


# A pyfunc that fails (HTTP 500) on rows whose x is below -100, and labels the rest 0.
FAULTY_MODEL = """\
import mlflow.pyfunc
from mlflow.models import set_model


class Faulty(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if (model_input["x"] < -100).any():
            raise RuntimeError("injected fault: x below -100")
        return [0] * len(model_input)


set_model(Faulty())
"""


def faulty_model(folder: Path) -> Path:
    """An MLflow model directory of FAULTY_MODEL (no signature: any columns)."""
    import mlflow.pyfunc

    code = folder / "faulty.py"
    code.write_text(FAULTY_MODEL, encoding="utf-8")
    mlflow.pyfunc.save_model(str(folder / "faulty"), python_model=str(code))
    return folder / "faulty"


@pytest.fixture
def erroring(pushgateway: Service, tmp_path: Path) -> Iterator[Monitored]:
    """A deployment of `demo` whose server answers 500 to poisoned rows, watched by its own
    Prometheus; its rules are the bundled ones with every `for:` at 0, so an alert fires on its
    expression alone (promtool test rules covers the waiting)."""
    rules = yaml.safe_load((assets.RESOURCES / assets.RULES).read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    with watched(faulty_model(tmp_path), tmp_path, pushgateway, tmp_path / "rules.yml") as deployment:
        yield deployment


@contextmanager
def watched(model_dir: Path, tmp: Path, pushgateway: Service, rules: Path | None = None) -> Iterator[Monitored]:
    """`mlci serve` on `model_dir` as demo version 1 (target production, host app1), and a
    Prometheus scraping it and the Pushgateway, evaluating `rules` (default: the bundled ones)."""
    capture = tmp / "capture"
    with serving(model_dir, tmp / "server", "--capture-dir", str(capture), "--capture-rate", "1") as base:
        labels = {"model": "demo", "target": "production", "environment": "production", "host": "app1"}
        server = {"targets": [base.removeprefix("http://")], "labels": labels}
        scrape = [
            {"job_name": assets.SERVERS_JOB, "static_configs": [server]},
            {"job_name": assets.PUSHGATEWAY_JOB, "honor_labels": True,
             "static_configs": [{"targets": [pushgateway.url.removeprefix("http://")]}]},
        ]  # fmt: skip
        with prometheus(tmp / "prometheus", scrape, rules or assets.RESOURCES / assets.RULES) as url:
            wait_for(lambda: query(url, 'up{model="demo"} == 1'), 30, "first scrape of the model server")
            yield Monitored(base, url, pushgateway.url, capture)


@contextmanager
def serving(model_dir: Path, tmp: Path, *args: str) -> Iterator[str]:
    """`mlci serve` on `model_dir` as demo version 1, ready; yields its base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(MLCI), "serve", "--model-dir", str(model_dir), "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "MLCI_MODEL_NAME": "demo", "MLCI_MODEL_VERSION": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{base}/readyz"), 60, "model server ready")
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@contextmanager
def prometheus(tmp: Path, scrape_configs: list[dict[str, object]], rules: Path | None = None) -> Iterator[str]:
    """A Prometheus scraping and evaluating every second; yields its URL once ready."""
    tmp.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": scrape_configs,
    }
    if rules:
        config["rule_files"] = [str(rules)]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    with _start(argv, f"http://127.0.0.1:{port}/-/ready", tmp):
        yield f"http://127.0.0.1:{port}"


def _ok(url: str) -> bool:
    try:
        return http(url)[0] == 200
    except OSError:
        return False
