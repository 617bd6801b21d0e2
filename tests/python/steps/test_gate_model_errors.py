"""A model that cannot load, predict or be scored is the model's problem (exit 2, naming the
model and the cause), never "MLflow at ..." (exit 3, which is for the servers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pytest
import regkit
from gatekit import experiment, sqlite_store, step


class NeedsAMissingModule(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def load_context(self, context: Any) -> None:
        import mlci_no_such_module  # noqa: F401  # the dependency the validating Python lacks

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return [0.0] * len(model_input)


class RaisesInPredict(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        raise RuntimeError("boom in predict")


class ReturnsWords(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return ["high"] * len(model_input)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = regkit.make_project(tmp_path_factory.mktemp("gate") / "errors")
    with sqlite_store(root):
        yield root


def _logged(model: mlflow.pyfunc.PythonModel) -> tuple[str, str]:
    import mlflow

    with mlflow.start_run(experiment_id=experiment("errors")) as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=model, pip_requirements=["mlflow"])
    return run.info.run_id, info.model_uri


def test_a_model_missing_a_module_exits_2_naming_it(root: Path) -> None:
    run, uri = _logged(NeedsAMissingModule())
    code, result = step("validate", "missing-module", root, render=regkit.config, runId=run)
    assert code == 2, result["summary"]
    assert result["summary"].startswith(f"the candidate {uri} cannot be loaded: ModuleNotFoundError: ")
    assert "mlci_no_such_module" in result["summary"] and "MLflow at" not in result["summary"]


def test_a_predict_that_raises_exits_2(root: Path) -> None:
    run, uri = _logged(RaisesInPredict())
    code, result = step("validate", "raises", root, render=regkit.config, runId=run)
    assert (code, result["summary"]) == (
        2,
        f"data/holdout.csv: the candidate model {uri} cannot predict this data: RuntimeError: boom in predict",
    )


def test_predictions_the_task_cannot_score_exit_2(root: Path) -> None:
    run, uri = _logged(ReturnsWords())
    code, result = step("validate", "words", root, render=regkit.config, runId=run)
    assert code == 2, result["summary"]
    assert result["summary"].startswith(f"the candidate {uri} cannot be evaluated on the holdout: ")
