"""Loading a model, predicting the holdout and evaluating it with `mlflow.models.evaluate`."""

from __future__ import annotations

import logging
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import log, tracking
from mlci.errors import InputError
from mlci.gate import blame

if TYPE_CHECKING:
    import pandas as pd

    from mlci.gate.modelenv import Loaded

MODEL_TYPES = {"classification": "classifier", "regression": "regressor"}
PREDICTION = "mlci_prediction"  # the column of predictions scored without the model


def load(srv: tracking.Server, uri: str, workdir: Path, who: str, env_manager: str | None, role: str) -> Loaded:
    """Download the model's artifacts once (their size is the size budget), then load them in
    the Python `modelenv` chooses for it (`role` names the model in its log lines). A failed
    download is the artifact store's (exit 3); a model that does not load from its artifacts
    is the model's (exit 2: `who` and `uri` named, with the cause)."""
    from mlci.gate import modelenv

    with tracking.guard(srv, f"downloading {who} {uri}", download=True):
        downloaded = modelenv.download(uri, workdir)
    with blame.model_guard(srv, f"loading {who} {uri}", f"{who} {uri} cannot be loaded"):
        return modelenv.load(downloaded, env_manager, role)


def input_columns(model: Any, frame: pd.DataFrame, target: str) -> list[str]:
    """The holdout columns the model takes: its signature's inputs, else the feature names its
    estimator was fitted on, else every column but the label. Others (an id, a column only
    slices use) never reach the model: a plain scikit-learn estimator refuses unseen names."""
    schema = model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        names = set(schema.input_names())
    else:
        try:
            fitted = getattr(model.get_raw_model(), "feature_names_in_", None)
        except Exception:  # a flavor without a raw model to ask: no names to go by
            fitted = None
        names = {str(n) for n in fitted} if fitted is not None else set(frame.columns)
    return [c for c in frame.columns if c != target and c in names]


def features(model: Any, frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[input_columns(model, frame, target)]


def quiet_mlflow() -> None:
    """MLflow logs "extra inputs ignored" on every predict and a line per validated metric:
    mlci says such things once, in its own words."""
    logging.getLogger("mlflow.models.utils").setLevel(logging.ERROR)
    logging.getLogger("mlflow.models.evaluation.validation").setLevel(logging.WARNING)


def predict(model: Any, frame: pd.DataFrame, target: str, holdout: str, uri: str) -> Any:
    """The candidate's predictions; a holdout the model's signature rejects, or a predict that
    raises, is bad input (predict never talks to the tracking server)."""
    from mlflow.exceptions import MlflowException

    schema = model.metadata.get_input_schema()
    taken = input_columns(model, frame, target)
    extra = [c for c in frame.columns if c != target and c not in taken]
    if extra:
        log.info(f"{holdout}: columns the model does not take are left out of predictions: {', '.join(extra)}")
    if schema is not None and schema.has_input_names():
        missing = [c.name for c in schema.inputs if c.required and c.name not in frame.columns]
        if missing:
            raise InputError(
                f"{holdout}: the candidate model rejects this data (its signature): "
                f"missing column(s) {', '.join(missing)}"
            )
    try:
        return model.predict(frame[taken])
    except MlflowException as err:
        # MLflow's message starts with a dump of the data; its last line says what is wrong.
        reason = str(err.message).strip().splitlines()[-1]
        raise InputError(
            f"{holdout}: the candidate model rejects this data (its signature): {reason[:400]} ({uri})"
        ) from None
    except Exception as err:
        raise InputError(f"{holdout}: the candidate model {uri} cannot predict this data: {blame.cause(err)}") from None


def metrics(
    srv: tracking.Server,
    model: Any,
    frame: pd.DataFrame,
    target: str,
    task: str,
    who: str,
    uri: str,
    predictions: Any = None,
) -> dict[str, float]:
    """`mlflow.models.evaluate` in the active run: its metrics (and plots) land in that run.
    Logging them is the tracking server's part (exit 3 when it fails); predicting and scoring
    are the model's (exit 2). With `predictions` (labels read from class probabilities) those
    are scored instead of calling the model, whose raw output MLflow cannot score."""
    import mlflow

    if predictions is None:
        data, given = frame[[*input_columns(model, frame, target), target]], {"model": model}
    else:
        import pandas as pd

        data = pd.DataFrame({target: frame[target].to_numpy(), PREDICTION: predictions})
        given = {"predictions": PREDICTION}
    with blame.model_guard(srv, f"evaluating {who} {uri}", f"{who} {uri} cannot be evaluated on the holdout"):
        result = mlflow.models.evaluate(  # type: ignore[no-untyped-call]
            data=data,
            targets=target,
            model_type=MODEL_TYPES[task],
            evaluators=["default"],
            # SHAP is optional and breaks on pandas' string dtype; the gate never reads it.
            evaluator_config={"default": {"log_model_explainability": False}},
            **given,
        )
    return {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float) or hasattr(v, "item")}


def latency_p95_ms(model: Any, frame: pd.DataFrame, target: str, rows: int, repeats: int) -> float:
    """p95 wall time of `predict` on `rows` holdout rows (resampled when the holdout is smaller)."""
    batch = features(model, frame, target)
    batch = batch.sample(n=rows, replace=len(batch) < rows, random_state=0) if rows != len(batch) else batch
    from mlci.gate import modelenv

    times = modelenv.remote_timings(model, batch, repeats)  # a model in its own env is timed there
    if times is None:
        model.predict(batch)  # warm-up: first-call caches are not latency
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict(batch)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]


def scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="mlci-validate-")
