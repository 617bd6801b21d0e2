"""Predicts with one MLflow model inside the virtualenv built from its requirements.

Started by `mlci.gate.modelenv` as `<env python> -I modelenv_worker.py <model dir>`: it imports
only the standard library, numpy, pandas and mlflow (never mlci, which that env does not have).
Requests come one JSON line each on stdin; each answer is one JSON line on the file descriptor
that was stdout when the worker started. The model's own prints go to stderr, so they cannot
corrupt the protocol. Data travels as JSON files, whose format both sides share:

- frame: {"kind": "frame", "columns": [...], "dtypes": {...}, "data": [[row], ...]}
- array: {"kind": "ndarray", "dtype": "...", "data": nested lists}
- series: {"kind": "series", "name": ..., "dtype": "...", "data": [...]}
- list: {"kind": "list", "data": [...]}
- scalar: {"kind": "scalar", "data": value}
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    """A JSON-ready Python value for a numpy or pandas scalar; missing values become null."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    import pandas as pd

    if value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def encode(data: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return {
            "kind": "frame",
            "columns": [str(c) for c in data.columns],
            "dtypes": {str(c): str(t) for c, t in data.dtypes.items()},
            "data": [[_plain(v) for v in row] for row in data.itertuples(index=False, name=None)],
        }
    if isinstance(data, pd.Series):
        values = [_plain(v) for v in data]
        return {"kind": "series", "name": _plain(data.name), "dtype": str(data.dtype), "data": values}
    if isinstance(data, np.ndarray):
        flat = [_plain(v) for v in data.reshape(-1)]
        return {"kind": "ndarray", "dtype": str(data.dtype), "shape": list(data.shape), "data": flat}
    if isinstance(data, list | tuple):
        return {"kind": "list", "data": [_plain(v) for v in data]}
    if isinstance(data, bool | int | float | str) or hasattr(data, "item"):
        return {"kind": "scalar", "data": _plain(data)}
    raise TypeError(f"cannot pass a {type(data).__name__} between mlci and the model's environment")


def _typed(values: Any, dtype: str) -> Any:
    """`values` (a Series) in `dtype` when it is a numeric, boolean or date type; else as it is."""
    import pandas as pd

    try:
        kind = pd.api.types.pandas_dtype(dtype).kind
    except TypeError:
        return values  # a dtype this pandas does not know (e.g. a newer string dtype): text stays text
    if kind == "M":
        return pd.to_datetime(values)
    if kind in "iub" and values.isna().any():
        return values  # NaN in an integer or boolean column: leave it to the model's schema enforcement
    if kind in "iufb":
        return values.astype(dtype)
    return values


def decode(doc: dict[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    kind = doc["kind"]
    if kind == "frame":
        frame = pd.DataFrame(doc["data"], columns=doc["columns"])
        for column, dtype in doc["dtypes"].items():
            frame[column] = _typed(frame[column], dtype)
        return frame
    if kind == "series":
        return _typed(pd.Series(doc["data"], name=doc["name"]), doc["dtype"])
    if kind == "ndarray":
        values = [np.nan if v is None else v for v in doc["data"]]
        try:
            array = np.asarray(values, dtype=doc["dtype"])
        except (TypeError, ValueError):
            array = np.asarray(values, dtype=object)
        return array.reshape(doc["shape"])
    if kind == "list":
        return list(doc["data"])
    if kind == "scalar":
        return doc["data"]
    raise ValueError(f"unknown data kind {kind!r}")


def read(path: str) -> Any:
    return decode(json.loads(Path(path).read_text(encoding="utf-8")))


def write(path: str, data: Any) -> None:
    Path(path).write_text(json.dumps(encode(data)), encoding="utf-8")


def _failure(err: BaseException) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": False, "type": type(err).__name__, "message": str(err)[:2000]}
    if isinstance(err, ModuleNotFoundError):
        answer["module"] = err.name
    message = getattr(err, "message", None)
    if isinstance(message, str):
        answer["message"] = message[:2000]  # MlflowException: its message without the error code
    traceback.print_exc(file=sys.stderr)
    return answer


def _raw_model(model: Any) -> Any:
    impl = model._model_impl
    return impl.get_raw_model() if hasattr(impl, "get_raw_model") else impl


def serve(model_dir: str, answers: Any) -> None:
    import mlflow
    import mlflow.pyfunc

    def answer(data: dict[str, Any]) -> None:
        answers.write(json.dumps(data) + "\n")
        answers.flush()

    try:
        model = mlflow.pyfunc.load_model(model_dir)
    except BaseException as err:  # every failure is an answer, not a dead pipe
        answer(_failure(err))
        return
    raw = _raw_model(model)
    methods = [m for m in ("predict", "predict_proba", "score") if callable(getattr(raw, m, None))]
    names = getattr(raw, "feature_names_in_", None)  # what a scikit-learn model was fitted on
    answer(
        {
            "ok": True,
            "mlflow": mlflow.__version__,
            "python": sys.version.split()[0],
            "raw": methods,
            "feature_names": None if names is None else [str(n) for n in names],
        }
    )
    for line in sys.stdin:
        request = json.loads(line)
        try:
            data = [read(path) for path in request["inputs"]]
            if request["op"] == "predict":
                target = getattr(raw, request["raw"]) if request.get("raw") else model.predict
                write(request["output"], target(*data))
                answer({"ok": True})
            elif request["op"] == "time":
                model.predict(data[0])  # warm-up: first-call caches are not latency
                times = []
                for _ in range(int(request["repeats"])):
                    started = time.perf_counter()
                    model.predict(data[0])
                    times.append((time.perf_counter() - started) * 1000)
                answer({"ok": True, "times_ms": times})
            else:
                answer({"ok": False, "type": "ValueError", "message": f"unknown op {request['op']!r}"})
        except Exception as err:
            answer(_failure(err))


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the model's prints (and native libraries' output) go to stderr
    sys.stdout = sys.stderr
    serve(sys.argv[1], answers)


if __name__ == "__main__":
    main()
