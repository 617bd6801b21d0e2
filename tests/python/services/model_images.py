"""Model-server images for deploy tests: one real `mlci serve` image per behaviour, built on
the locally built base image and pushed to the session's registry, referenced by digest.

Every image serves the same small pyfunc model (label = x > 0); a bad build is the same model
with a fault switched on in its MLflow model config, so the server itself is unchanged:
crash on start (on hosts whose server env sets DEPLOYTEST_CRASH), never ready, 5% HTTP 500,
+300 ms per predict, wrong predictions.
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
BASE = "mlci/python:3.11-bookworm"
COLUMNS = ["x", "n"]
BUILDS = ("v1", "v2", "crash", "never_ready", "errors", "slow", "wrong")

MODEL_CODE = '''\
import os
import random
import time

import mlflow.pyfunc
from mlflow.models import set_model


class Labeller(mlflow.pyfunc.PythonModel):
    """label = x > 0; `fault` in the model config makes a bad build of the same model."""

    def load_context(self, context):
        # Faults act only in the image (which sets MLCI_MODEL_DIR), not while MLflow saves the model.
        fault = (context.model_config or {}).get("fault", "none")
        self.fault = fault if os.environ.get("MLCI_MODEL_DIR") else "none"
        self.calls = 0
        # Only on the hosts whose server env sets DEPLOYTEST_CRASH, so a rolling deploy can pass
        # its first batches and fail in a later one.
        if self.fault == "crash" and os.environ.get("DEPLOYTEST_CRASH"):
            raise RuntimeError("injected fault: crash on start")
        if self.fault == "never_ready":
            time.sleep(10**6)

    def predict(self, context, model_input, params=None):
        self.calls += 1
        labels = (model_input["x"] > 0).astype(int)
        if self.fault == "errors" and self.calls > 1 and random.random() < 0.05:
            raise RuntimeError("injected fault: 5% of predictions fail")
        if self.fault == "slow":
            time.sleep(0.3)
        if self.fault == "wrong":
            labels = 1 - labels
        return labels.tolist()


set_model(Labeller())
'''


@dataclass(frozen=True)
class Images:
    refs: dict[str, str]  # build name -> repository@sha256:...
    rows: list[list[float]]  # holdout rows (x, n)
    expected: list[int]

    def payload(self, rows: int = 8) -> dict[str, Any]:
        return {"dataframe_split": {"columns": COLUMNS, "data": self.rows[:rows]}}


def holdout(count: int = 200, seed: int = 7) -> list[list[float]]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    return [[round(rng.uniform(-3, 3), 3), float(rng.randint(0, 9))] for _ in range(count)]


def save_model(folder: Path, code: Path, fault: str) -> Path:
    import mlflow.pyfunc
    import pandas as pd

    target = folder / fault
    mlflow.pyfunc.save_model(
        str(target),
        python_model=str(code),
        model_config={"fault": fault},
        input_example=pd.DataFrame(holdout(3), columns=COLUMNS),
    )
    return target


@pytest.fixture(scope="session")
def model_images(docker_engine: str, registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    return build_all(registry, tmp_path_factory.mktemp("model-images"))


def build_all(registry: str, work: Path, builds: tuple[str, ...] = BUILDS) -> Images:
    """Build and push every image in `builds`; the dependency layer is built once and shared."""
    from mlci.image import base, build, context
    from mlci.image.source import ModelSource

    base.ensure(BASE, REPO / ".cache" / "base-image")
    work.mkdir(parents=True, exist_ok=True)
    code = work / "labeller.py"
    code.write_text(textwrap.dedent(MODEL_CODE), encoding="utf-8")
    repository = f"{registry}/deploytest"
    refs: dict[str, str] = {}
    for number, name in enumerate(builds, start=1):
        fault = "none" if name.startswith("v") else name
        model_dir = save_model(work / "models", code, fault if fault != "none" else f"none-{name}")
        source = ModelSource(f"file://{model_dir}", "deploytest", str(number), "", "test", "test", model_dir)
        ctx_dir = work / "ctx" / name
        ctx_dir.mkdir(parents=True)
        context.assemble(ctx_dir, source, BASE)
        built = build.build(ctx_dir, f"{repository}:{name}", work / f"{name}.log")
        refs[name] = f"{repository}@{build.push(repository, name, built.image_id, True)}"
    rows = holdout()
    return Images(refs, rows, [int(r[0] > 0) for r in rows])
