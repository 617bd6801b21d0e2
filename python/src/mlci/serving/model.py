"""Load an MLflow model directory once and describe it: signature, input example, identity.

Scikit-learn models saved with pickle or cloudpickle are loaded directly, without importing
mlflow (mlflow's import alone costs seconds of start-up); every other flavor goes through
`mlflow.pyfunc.load_model`. Both paths predict on the same validated DataFrame.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import InputError

DIRECT_SKLEARN_FORMATS = ("cloudpickle", "pickle")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # MLflow column type: long, integer, double, float, string, boolean, datetime, binary
    required: bool = True


@dataclass
class ServedModel:
    path: Path
    name: str
    version: str
    run_id: str
    columns: list[Column]  # empty when the model has no column-based signature
    predict: Callable[[Any], Any]
    loader: str  # "sklearn" (direct) or "pyfunc"
    example: dict[str, Any] | None = None  # serving input example, in the scoring protocol
    extra: dict[str, Any] = field(default_factory=dict)


def read_mlmodel(path: Path) -> dict[str, Any]:
    file = path / "MLmodel"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: not found; --model-dir must be an MLflow model directory") from None
    except yaml.YAMLError as err:
        raise InputError(f"{file}: invalid YAML: {err}") from None
    if not isinstance(data, dict) or "python_function" not in data.get("flavors", {}):
        raise InputError(f"{file}: no python_function flavor; mlci serves MLflow pyfunc models")
    return data


def signature_columns(mlmodel: dict[str, Any]) -> list[Column]:
    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        return []
    specs = json.loads(raw)
    if not all(isinstance(s, dict) and s.get("name") and s.get("type") != "tensor" for s in specs):
        return []  # tensor or unnamed inputs: no column checks, the model's own enforcement applies
    return [Column(s["name"], str(s["type"]), bool(s.get("required", True))) for s in specs]


def serving_example(path: Path, mlmodel: dict[str, Any]) -> dict[str, Any] | None:
    info = mlmodel.get("saved_input_example_info") or {}
    name = info.get("serving_input_path")
    if not name or not (path / name).is_file():
        return None
    data = json.loads((path / name).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _sklearn_predict(path: Path, mlmodel: dict[str, Any]) -> Callable[[Any], Any] | None:
    """The fitted estimator's predict method, when the model is a pickled scikit-learn one."""
    pyfunc = mlmodel["flavors"]["python_function"]
    sk = mlmodel["flavors"].get("sklearn")
    if pyfunc.get("loader_module") != "mlflow.sklearn" or not sk:
        return None
    if sk.get("serialization_format") not in DIRECT_SKLEARN_FORMATS or sk.get("code"):
        return None
    import cloudpickle  # type: ignore[import-untyped]

    # The model file is the one this image was built with: trusted like the image itself.
    with (path / sk["pickled_model"]).open("rb") as fh:
        estimator = cloudpickle.load(fh)
    method: Callable[[Any], Any] = getattr(estimator, pyfunc.get("predict_fn") or "predict")
    return method


def _pyfunc_predict(path: Path) -> Callable[[Any], Any]:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(path))
    predict: Callable[[Any], Any] = model.predict
    return predict


def load(path: Path, name: str | None = None, version: str | None = None, run_id: str | None = None) -> ServedModel:
    """Load the model at `path`; identity comes from the arguments, then the image's env, then MLmodel."""
    mlmodel = read_mlmodel(path)
    predict = _sklearn_predict(path, mlmodel)
    loader = "sklearn"
    if predict is None:
        predict, loader = _pyfunc_predict(path), "pyfunc"
    return ServedModel(
        path=path,
        name=name or os.environ.get("MLCI_MODEL_NAME") or path.name,
        version=version or os.environ.get("MLCI_MODEL_VERSION") or "",
        run_id=run_id or os.environ.get("MLCI_MODEL_RUN_ID") or str(mlmodel.get("run_id") or ""),
        columns=signature_columns(mlmodel),
        predict=predict,
        loader=loader,
        example=serving_example(path, mlmodel),
    )
