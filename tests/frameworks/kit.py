"""The framework matrix's shared parts: the frameworks, each project's `.mlci.yml`, training a
project through the steps, and running its image. Used by tests/e2e/test_frameworks*.py."""

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

import datasets
import pytest

from mlci import protocol

REPO = Path(__file__).resolve().parents[2]
FRAMEWORKS_DIR = Path(__file__).resolve().parent
MLCI = Path(sys.executable).parent / "mlci"

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


def cli(root: Path, command: str, **params: Any) -> tuple[int, dict[str, Any], str]:
    """`mlci COMMAND` as the Jenkins step runs it (a params file, a result file), in `root`:
    the exit code, the result and stderr."""
    (root / f"{command}.params.json").write_text(json.dumps(params), encoding="utf-8")
    proc = subprocess.run(
        [str(MLCI), command, "--params", f"{command}.params.json", "--result", f"{command}.result.json"],
        cwd=root,
        env={**os.environ, "MLCI_CACHE_DIR": str(REPO / ".cache" / "mlci")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc.returncode, json.loads((root / f"{command}.result.json").read_text()), proc.stderr


def aliases(name: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return {a: str(v) for a, v in MlflowClient().get_registered_model(name).aliases.items()}


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
