"""A real MLflow store (sqlite) with small logged models: a scikit-learn pipeline registered
as `demo` (cloudpickle, with an input example) and a pyfunc that sleeps on request."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

COLUMNS = ["x", "n", "color", "extra"]
ROWS = [[0.5, 1, "red", 0.1], [2.5, 7, "blue", None], [-1.0, 3, "green", 2.0], [3.3, 0, "red", 1.5]]

SLOW_MODEL = '''\
import time

import mlflow.pyfunc
from mlflow.models import set_model


class Slow(mlflow.pyfunc.PythonModel):
    """Sleeps `delay` seconds (the largest in the batch), then echoes `value`."""

    def predict(self, context, model_input, params=None):
        time.sleep(float(model_input["delay"].max()))
        return model_input["value"].astype(float).tolist()


set_model(Slow())
'''


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    root: Path
    name: str  # registered sklearn model
    uri: str  # models:/demo/1
    model_dir: Path  # local MLflow model directory of version 1
    run_id: str
    expected: list[int]  # predictions for ROWS
    slow_dir: Path  # local directory of the sleeping pyfunc
    experiment_id: str


def frame(rows: list[list[Any]] | None = None) -> Any:
    import pandas as pd

    return pd.DataFrame(rows or ROWS, columns=COLUMNS)


def log_sklearn(name: str, experiment_id: str, c: float = 1.0) -> tuple[str, Any]:
    """Fit and log the demo pipeline, register it under `name`; return (run id, model)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    train = frame([[i * 0.1, i % 9, ["red", "green", "blue"][i % 3], (i % 4) * 0.5] for i in range(60)])
    y = (train["x"] + train["n"] * 0.3 > 3).astype(int)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(), ["x", "n", "extra"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(C=c)),
        ]
    ).fit(train, y)
    example = frame()
    signature = infer_signature(train.assign(extra=train["extra"].where(train.index % 5 != 0)), y)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.set_tags({"mlci.git.commit": "0" * 40, "mlci.data.fingerprint": "fp-demo"})
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=signature,
            serialization_format="cloudpickle",
            registered_model_name=name,
        )
    return run.info.run_id, model


@contextmanager
def use_store(uri: str) -> Iterator[None]:
    """mlflow's process-wide tracking and registry URIs point at `uri` only inside the block.
    Both are set: an earlier test may have left MLFLOW_REGISTRY_URI in the environment (mlflow's
    `set_registry_uri` writes it there), which would send the registry calls elsewhere."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    saved = registry_utils._registry_uri, os.environ.get("MLFLOW_REGISTRY_URI")
    registry_utils._registry_uri = uri
    try:
        with _use_tracking_uri(uri):
            yield
    finally:
        registry_utils._registry_uri = saved[0]
        if saved[1] is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
        else:
            os.environ["MLFLOW_REGISTRY_URI"] = saved[1]


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # Other tests choose their own store: mlflow's process-wide URI is ours only while logging.
    with use_store(uri):
        experiment = mlflow.create_experiment("tests", artifact_location=(root / "artifacts").as_uri())
        run_id, model = log_sklearn("demo", experiment)
        model_dir = Path(mlflow.artifacts.download_artifacts("models:/demo/1", dst_path=str(root / "demo-1")))
        code = root / "slow_model.py"
        code.write_text(textwrap.dedent(SLOW_MODEL), encoding="utf-8")
        import pandas as pd

        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(
                name="slow",
                python_model=str(code),
                input_example=pd.DataFrame({"delay": [0.0], "value": [1.0]}),
            )
        slow_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "slow")))
    expected = [int(v) for v in model.predict(frame())]
    yield Store(uri, root, "demo", "models:/demo/1", model_dir, run_id, expected, slow_dir, experiment)
