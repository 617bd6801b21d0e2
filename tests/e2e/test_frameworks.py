"""The framework matrix: model projects as users bring them (tests/frameworks/), each trained by
its own train.py through `mlci train` on seeded data, gated against a champion, built into an
image that must serve what the model predicts; the regressor and LightGBM are deployed and
smoke-tested. Every holdout carries an id and a group column that no model takes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FRAMEWORKS_DIR = REPO / "tests" / "frameworks"
MLCI = Path(sys.executable).parent / "mlci"
sys.path.insert(0, str(REPO / "tests" / "python"))
sys.path.insert(0, str(FRAMEWORKS_DIR))
import datasets  # noqa: E402
from services.docker_engine import base_image, docker_engine  # noqa: E402, F401
from services.ports import free_port  # noqa: E402
from services.registry import registry  # noqa: E402, F401

from mlci import protocol  # noqa: E402

REGRESSION = """\
  thresholds:
    root_mean_squared_error:
      min_relative_change: 0.0
    r2_score:
      threshold: 0.5
"""
CLASSIFICATION = """\
  thresholds:
    accuracy_score:
      threshold: {floor}
      min_relative_change: 0.0
"""


@dataclass(frozen=True)
class Framework:
    name: str
    task: str  # model.task
    data: str  # datasets.make kind
    gate: str  # the validate section's thresholds
    metric: str  # the metric a worse model must be rejected on
    slices: str = ""
    deploy: bool = False


FRAMEWORKS = [
    Framework(
        "sklearn_regressor",
        "regression",
        "regression",
        REGRESSION,
        "root_mean_squared_error",
        slices="  slices:\n    - column: group\n      metric: root_mean_squared_error\n      max_gap: 2.0\n",
        deploy=True,
    ),
    Framework("sklearn_multiclass", "classification", "multiclass", CLASSIFICATION.format(floor=0.6), "accuracy_score"),
    Framework(
        "lightgbm_sklearn", "classification", "binary", CLASSIFICATION.format(floor=0.7), "accuracy_score", deploy=True
    ),
    Framework("lightgbm_booster", "classification", "multiclass", CLASSIFICATION.format(floor=0.6), "accuracy_score"),
    Framework("pyfunc_custom", "classification", "multiclass", CLASSIFICATION.format(floor=0.6), "accuracy_score"),
    Framework("onnx_regressor", "regression", "regression", REGRESSION, "root_mean_squared_error"),
]


def model_name(fw: Framework) -> str:
    return f"fw-{fw.name.replace('_', '-')}"


def config(fw: Framework, name: str, registry_address: str, base: str, extra: str = "") -> str:
    # LightGBM's OpenMP runtime is not in the minimal base: the project asks for it.
    system = "  system_packages: [libgomp1]\n" if fw.name.startswith("lightgbm") else ""
    return f"""\
version: 1
model:
  name: {name}
  task: {fw.task}
  target: y
data:
  train: data/train.csv
  holdout: data/holdout.csv
training:
  command: [{sys.executable}, train.py, --data, data/train.csv, --target, y]
  params:
    quality: good
validate:
{fw.gate}{fw.slices}  max_latency_p95_ms: 5000
  latency_rows: 100
  latency_repeats: 5
image:
  registry: "{registry_address}"
  base_image: {base}
{system}{extra}"""


@dataclass
class Trained:
    fw: Framework
    root: Path
    name: str  # the registered model
    runs: dict[str, str]  # champion | challenger | worse -> run id

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}@champion"


def step(root: Path, command: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return protocol.execute(command, {"configFile": str(root / ".mlci.yml"), **params})


def aliases(name: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return {a: str(v) for a, v in MlflowClient().get_registered_model(name).aliases.items()}


@pytest.fixture(scope="module", params=FRAMEWORKS, ids=lambda fw: fw.name)
def trained(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    registry: str,  # noqa: F811
    base_image: str,  # noqa: F811
) -> Iterator[Trained]:
    yield from train_project(request.param, tmp_path_factory.mktemp("fw") / request.param.name, registry, base_image)


def train_project(
    fw: Framework,
    root: Path,
    registry_address: str,
    base: str,
    labels: tuple[str, ...] = ("champion", "challenger", "worse"),
    extra: str = "",
    name: str = "",
) -> Iterator[Trained]:
    """The project on disk, a sqlite store, the runs (champion and an equal challenger trained
    the same way, a worse one on shuffled labels), and the champion promoted through the steps."""
    name = name or model_name(fw)
    root.mkdir()
    shutil.copy(FRAMEWORKS_DIR / fw.name / "train.py", root / "train.py")
    shutil.copy(FRAMEWORKS_DIR / "common.py", root / "common.py")
    datasets.write(root / "data", fw.data, "y")
    (root / ".mlci.yml").write_text(config(fw, name, registry_address, base, extra), encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*git, *argv], cwd=root, check=True, capture_output=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / '.mlci' / 'mlflow.db'}")
        mp.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{root / '.mlci' / 'mlflow.db'}")
        runs = {}
        for label in labels:
            quality = "bad" if label == "worse" else "good"
            started = time.monotonic()
            code, result = step(root, "train", params={"quality": quality})
            assert code == 0, f"train {label}: {result['summary']}"
            runs[label] = result["outputs"]["runId"]
            print(f"{fw.name}: trained {label} in {time.monotonic() - started:.1f} s")
        for command, params in (("validate", {"runId": runs["champion"]}), ("register", {"runId": runs["champion"]})):
            code, result = step(root, command, **params)
            assert code == 0, f"{command} champion: {result['summary']}"
        code, result = step(root, "promote")
        assert code == 0, result["summary"]
        yield Trained(fw, root, name, runs)


def test_an_equal_challenger_passes_the_gate(trained: Trained) -> None:
    code, result = step(trained.root, "validate", runId=trained.runs["challenger"])
    assert code == 0, result["summary"]
    assert result["status"] == "passed"


def test_a_worse_model_is_rejected_naming_the_metric_and_both_values(trained: Trained) -> None:
    name = trained.name
    before = aliases(name)
    code, result = step(trained.root, "validate", runId=trained.runs["worse"])
    assert (code, result["status"]) == (1, "failed"), result["summary"]
    summary = result["summary"]
    metric = trained.fw.metric
    assert f"metric {metric}" in summary or metric in summary, summary
    # Both values: the candidate's and the champion's ("<metric> <value> vs champion <value>").
    assert " vs champion " in summary, summary
    assert aliases(name) == before == {"champion": "1"}


@dataclass
class Served:
    reference: str
    predictions: Any  # what the container answered for the holdout rows
    expected: Any  # what the model predicts for them in-process


def wait_ready(url: str, container: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2):  # noqa: S310 - loopback test server
                return
        except OSError:
            if time.monotonic() > deadline:
                logs = subprocess.run(["docker", "logs", "--tail", "30", container], capture_output=True, text=True)
                pytest.fail(f"{container} never became ready:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)


def invoke(url: str, frame: Any) -> Any:
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()
    req = urllib.request.Request(url + "/invocations", body, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())["predictions"]


def in_process(model_uri: str, frame: Any) -> Any:
    """The champion's own predictions for `frame`, loaded in this process."""
    import mlflow
    import numpy as np

    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(frame[datasets.FEATURES])
    return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype=float)


@pytest.fixture(scope="module")
def served(trained: Trained) -> Iterator[Served]:
    """`mlci build` of the champion (a real CLI run), then the pushed image run as a deploy runs it:
    non-root, read-only root, a tmpfs, every capability dropped."""
    import pandas as pd

    params = {"modelUri": trained.model_uri}
    (trained.root / "build.params.json").write_text(json.dumps(params), encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run(
        [str(MLCI), "build", "--params", "build.params.json", "--result", "build.result.json"],
        cwd=trained.root,
        env={**os.environ, "MLCI_CACHE_DIR": str(REPO / ".cache" / "mlci")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = json.loads((trained.root / "build.result.json").read_text())["outputs"]
    reference = outputs["reference"]
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", reference], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{trained.fw.name}: image built in {time.monotonic() - started:.1f} s, {int(size) / 1e6:.0f} MB")
    holdout = pd.read_csv(trained.root / "data" / "holdout.csv").head(50)
    port = free_port()
    container = f"mlci-{trained.name}-{os.getpid()}"
    run = ["docker", "run", "-d", "--name", container, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
    run += ["--security-opt", "no-new-privileges", "-p", f"127.0.0.1:{port}:8080", reference]
    subprocess.run(run, check=True, capture_output=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, container)
        # The holdout as it is, id and group columns included: the server takes the same rows.
        yield Served(reference, invoke(url, holdout), in_process(trained.model_uri, holdout))
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)


def test_the_image_serves_what_the_model_predicts(served: Served) -> None:
    import numpy as np

    got = np.asarray(served.predictions, dtype=float)
    assert got.shape == served.expected.reshape(got.shape).shape and len(got) == 50, got.shape
    np.testing.assert_allclose(got, served.expected.reshape(got.shape), rtol=1e-5, atol=1e-6)
