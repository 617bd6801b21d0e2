"""`validate.env_manager`: the candidate and the champion are evaluated in an environment built
from each model's own requirements when mlci's Python cannot load them (real uv, real PyPI
packages through uv's cache, a real sqlite MLflow store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from gatekit import STRONG, TRAIN, WEAK, config, make_project, sqlite_store

from conftest import write
from mlci import protocol

# A pure-Python package from PyPI that mlci's environment does not have.
DEPENDENCY = "inflection==0.5.1"

# gatekit's training script, with the model pipeline logged inside a PythonModel.
TRAIN_WRAPPED = (
    TRAIN.split("with mlflow.start_run(")[0]
    + """
class Wrapped(mlflow.pyfunc.PythonModel):
    def __init__(self, model):
        self.model = model

    def load_context(self, context):
        import inflection  # the model's own dependency

        self.name = inflection.underscore("ChurnModel")

    def predict(self, context, model_input, params=None):
        return self.model.predict(model_input)


with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
    mlflow.pyfunc.log_model(
        name="model", python_model=Wrapped(model), signature=infer_signature(x, model.predict(x)),
        pip_requirements=[PINS],
    )
"""
)


def _pins() -> str:
    pins = [f"{n}=={metadata.version(n)}" for n in ("scikit-learn", "pandas", "numpy", "cloudpickle")]
    return ", ".join(json.dumps(p) for p in [*pins, DEPENDENCY])


def step(command: str, name: str, root: Path, extra: str = "", script: str = "train.py", **params: object):
    cfg = write(root / f".mlci-{name}-{len(extra)}-{script}.yml", config(name, extra).replace("train.py", script))
    return protocol.execute(command, {"configFile": str(cfg), **params})


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A project with three runs: the wrapped model that needs the dependency, and the plain
    scikit-learn models (strong: the same pipeline as the wrapped one; weak)."""
    base = tmp_path_factory.mktemp("modelenv")
    root = make_project(base / "churn")
    write(root / "train_wrapped.py", TRAIN_WRAPPED.replace("PINS", _pins()))
    with sqlite_store(root) as mp:
        mp.setenv("MLCI_CACHE_DIR", str(base / "cache"))  # a cold env cache; uv's own cache is shared
        runs = {"root": str(root), "cache": str(base / "cache")}
        for label, script, features in (
            ("wrapped", "train_wrapped.py", STRONG),
            ("strong", "train.py", STRONG),
            ("weak", "train.py", WEAK),
        ):
            code, result = step("train", "churn", root, script=script, params={"features": features})
            assert code == 0, result["summary"]
            runs[label] = result["outputs"]["runId"]
        yield runs


def built_envs(envs: dict[str, str]) -> dict[str, float]:
    """Each built env and the mtime of its completion marker (a rebuild changes it)."""
    root = Path(envs["cache"]) / "envs"
    return {p.parent.name: p.stat().st_mtime for p in root.glob("*/.complete")}


def test_auto_evaluates_a_model_with_a_missing_dependency_in_its_own_env_and_reuses_it(
    envs: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    root = Path(envs["root"])
    with pytest.raises(ModuleNotFoundError):
        __import__("inflection")  # the premise: mlci's Python cannot load the wrapped model
    started = time.monotonic()
    code, first = step("validate", "auto", root, runId=envs["wrapped"])
    cold = time.monotonic() - started
    assert code == 0, first["summary"]
    log = capfd.readouterr().err
    assert (
        f"the candidate: evaluating it in an isolated environment (mlci's Python does not meet {DEPENDENCY} "
        "(not installed))" in log
    )
    assert "environment built in" in log
    built = built_envs(envs)
    assert len(built) == 1
    (key,) = built
    installed = (Path(envs["cache"]) / "envs" / key / "mlci-requirements.txt").read_text().split()
    assert DEPENDENCY in installed and f"mlflow-skinny=={metadata.version('mlflow')}" in installed
    # The predictions are the model's own: the same pipeline, unwrapped and evaluated locally, scores the same.
    code, plain = step("validate", "auto-plain", root, runId=envs["strong"])
    assert code == 0, plain["summary"]
    assert "the candidate: mlci's Python meets the model's requirements; evaluating it there" in capfd.readouterr().err
    for name in ("accuracy_score", "f1_score", "precision_score", "recall_score"):
        assert first["outputs"]["metrics"][name] == plain["outputs"]["metrics"][name], name
    started = time.monotonic()
    code, second = step("validate", "auto", root, runId=envs["wrapped"])
    warm = time.monotonic() - started
    assert code == 0, second["summary"]
    assert f"the candidate: reusing the environment {Path(envs['cache']) / 'envs' / key}" in capfd.readouterr().err
    assert built_envs(envs) == built  # not rebuilt
    assert second["outputs"]["metrics"] == first["outputs"]["metrics"]
    print(f"validate in a new env: {cold:.1f} s, reusing it: {warm:.1f} s; load times {first['outputs']['timings']}")


def test_local_env_with_a_missing_module_exits_2_naming_it(envs: dict[str, str]) -> None:
    code, result = step("validate", "local", Path(envs["root"]), extra="  env_manager: local\n", runId=envs["wrapped"])
    assert code == 2, result["summary"]
    assert result["summary"].startswith("the candidate models:/m-")
    assert (
        "cannot be loaded in mlci's Python (validate.env_manager: local): no module named 'inflection'"
        in (result["summary"])
    )


def test_uv_env_gives_a_scikit_learn_model_the_same_metrics_as_the_local_one(envs: dict[str, str]) -> None:
    """Probability metrics too: the isolated scikit-learn model answers predict_proba in its env."""
    root = Path(envs["root"])
    code, local = step("validate", "sk-local", root, extra="  env_manager: local\n", runId=envs["strong"])
    assert code == 0, local["summary"]
    code, isolated = step("validate", "sk-uv", root, extra="  env_manager: uv\n", runId=envs["strong"])
    assert code == 0, isolated["summary"]
    assert "roc_auc" in local["outputs"]["metrics"]
    assert isolated["outputs"]["metrics"] == pytest.approx(local["outputs"]["metrics"])


def test_champion_is_evaluated_in_its_own_env_while_the_candidate_runs_locally(
    envs: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    root = Path(envs["root"])
    for command, params in (("validate", {"runId": envs["wrapped"]}), ("register", {"runId": envs["wrapped"]})):
        code, result = step(command, "mixed", root, **params)
        assert code == 0, f"{command}: {result['summary']}"
    code, result = step("promote", "mixed", root)
    assert code == 0, result["summary"]
    import pandas as pd

    pd.read_csv(root / "data" / "holdout.csv").head(350).to_csv(root / "data" / "holdout-350.csv", index=False)
    capfd.readouterr()
    code, weak = step("validate", "mixed", root, runId=envs["weak"], holdout="data/holdout-350.csv")
    log = capfd.readouterr().err
    assert "the candidate: mlci's Python meets the model's requirements; evaluating it there" in log
    assert "the champion: evaluating it in an isolated environment" in log
    assert code == 1, weak["summary"]
    assert weak["outputs"]["championMetricsReused"] is False
    assert "metric accuracy_score" in weak["summary"]
    champion = json.loads((root / "reports" / "validate" / "validation.json").read_text())["champion"]
    # The champion's metrics are those of the same pipeline evaluated locally on this holdout.
    code, plain = step("validate", "mixed-plain", root, runId=envs["strong"], holdout="data/holdout-350.csv")
    assert code == 0, plain["summary"]
    for name in ("accuracy_score", "f1_score"):
        assert champion[name] == plain["outputs"]["metrics"][name], name
