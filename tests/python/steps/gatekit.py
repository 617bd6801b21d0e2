"""A small model project for the model-gate tests: churn data from the example's generator
and a fast logistic-regression training script whose `--features` make a weak or a strong
model. Training runs as a real child process through `mlci train`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, write
from mlci import protocol

STRONG = "tenure_months,monthly_charges,support_calls,senior,contract,payment_method,internet_service,region"
WEAK = "monthly_charges"

# The start of every test project's train.py: `--data FILE --features a,b,c`.
TRAIN_ARGS = """\
import argparse, os

import pandas as pd

p = argparse.ArgumentParser()
p.add_argument("--data")
p.add_argument("--features")
args = p.parse_args()
df = pd.read_csv(args.data)
features = args.features.split(",")
"""

TRAIN = (
    TRAIN_ARGS
    + """\
x, y = df[features], df["churned"]
if os.environ.get("SKIP_MODEL"):
    raise SystemExit(0)

import mlflow
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

cats = [c for c in features if x[c].dtype.kind not in "if"]
nums = [c for c in features if c not in cats]
pre = ColumnTransformer([("n", StandardScaler(), nums), ("c", OneHotEncoder(handle_unknown="ignore"), cats)])
model = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(x, y)
with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
    mlflow.sklearn.log_model(
        model, name="model", signature=infer_signature(x, model.predict(x)),
        pip_requirements=["scikit-learn"], serialization_format="cloudpickle",
    )
print("trained", features)
"""
)


@contextmanager
def sqlite_store(root: Path, build_url: str = "") -> Iterator[pytest.MonkeyPatch]:
    """The working directory `root` and a sqlite MLflow store in it, for a module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            mp.delenv(name, raising=False)
        mp.setenv("MLFLOW_TRACKING_URI", "sqlite:///.mlci/mlflow.db")
        # The steps' set_registry_uri() writes MLFLOW_REGISTRY_URI (absolute): set through
        # monkeypatch, it is removed again when the module ends instead of leaking into later modules.
        mp.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{root / '.mlci' / 'mlflow.db'}")
        if build_url:
            mp.setenv("BUILD_URL", build_url)
        yield mp


def commit_all(root: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*git, *argv], cwd=root, check=True, capture_output=True)


def client():  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


def experiment(name: str) -> str:
    """An experiment's id, for runs a test logs itself: `mlflow.set_experiment` would leave it
    active for every later test of the process."""
    found = client().get_experiment_by_name(name)
    return str(found.experiment_id if found else client().create_experiment(name))


def aliases(name: str) -> dict[str, str]:
    return {a: str(v) for a, v in client().get_registered_model(name).aliases.items()}


def project_config(name: str, task: str, target: str, features: str, validate: str) -> str:
    """A test project's `.mlci.yml`: its train.py on data/train.csv, its holdout, `validate`."""
    return f"""\
version: 1
model:
  name: {name}
  task: {task}
  target: {target}
data:
  train: data/train.csv
  holdout: data/holdout.csv
training:
  command: [{sys.executable}, train.py, --data, data/train.csv]
  params:
    features: "{features}"
validate:
{validate}"""


def train_runs(root: Path, render: Callable[[str, str], str], features: dict[str, str]) -> dict[str, str]:
    """Train one run per label (`--features` each), through `mlci train`; label -> run id."""
    runs = {"root": str(root)}
    for label, names in features.items():
        code, result = step("train", "trained", root, render=render, params={"features": names})
        assert code == 0, result["summary"]
        runs[label] = result["outputs"]["runId"]
    return runs


def config(name: str, extra: str = "") -> str:
    return project_config(name, "classification", "churned", STRONG, CHURN_VALIDATE + extra)


CHURN_VALIDATE = """\
  thresholds:
    accuracy_score:
      threshold: 0.6
      min_absolute_change: 0.01
    f1_score:
      threshold: 0.1
      min_relative_change: 0.0
  max_model_size_mb: 20
  max_latency_p95_ms: 2000
  latency_rows: 200
  latency_repeats: 5
"""


def make_project(root: Path) -> Path:
    """The project: data, training script, a git repository with everything committed."""
    sys.path.insert(0, str(REPO / "examples" / "churn"))
    import make_data

    sys.path.pop(0)
    train, holdout = make_data.split(make_data.make_dataset(2500, 3), 3)
    (root / "data").mkdir(parents=True)
    make_data.write_csv(train, root / "data" / "train.csv")
    make_data.write_csv(holdout, root / "data" / "holdout.csv")
    write(root / "train.py", TRAIN)
    write(root / ".mlci.yml", config("churn"))
    commit_all(root)
    return root


def step(
    command: str, name: str, root: Path, extra: str = "", render: Callable[[str, str], str] = config, **params: Any
) -> tuple[int, dict[str, Any]]:
    """Run a step in-process with a config naming registered model `name` (one per test)."""
    cfg = root / f".mlci-{name}.yml"
    if not cfg.exists() or extra:
        write(cfg, render(name, extra))
    return protocol.execute(command, {"configFile": str(cfg), **params})


def champion(root: Path, name: str, run: str, render: Callable[[str, str], str] = config) -> None:
    """Make `run` the champion of model `name` through the steps themselves."""
    for command, params in (("validate", {"runId": run}), ("register", {"runId": run}), ("promote", {})):
        code, result = step(command, name, root, render=render, **params)
        assert code == 0, f"{command}: {result['summary']}"
