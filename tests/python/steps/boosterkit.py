"""A 3-class project for the model-gate tests: scikit-learn's bundled iris data (no download),
string labels, and a native `lightgbm.Booster` (multiclass), whose predict returns an (n, 3)
array of class probabilities. The training script encodes the labels in sorted order, as
`mlci train` records them."""

from __future__ import annotations

from pathlib import Path

from gatekit import TRAIN_ARGS, commit_all, project_config

from conftest import write

ALL = "sepal_length,sepal_width,petal_length,petal_width"
WEAK = "sepal_width"

TRAIN = (
    TRAIN_ARGS
    + """\
x, y = df[features], df["species"]

import lightgbm
import mlflow
from mlflow.models import infer_signature

classes = sorted(y.unique())
codes = y.map({c: i for i, c in enumerate(classes)})
params = {"objective": "multiclass", "num_class": len(classes), "verbose": -1, "seed": 0, "num_threads": 1}
booster = lightgbm.train(params, lightgbm.Dataset(x, codes), num_boost_round=20)
with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
    mlflow.lightgbm.log_model(
        booster, name="model", signature=infer_signature(x, booster.predict(x)), pip_requirements=["lightgbm"]
    )
"""
)


def config(name: str, extra: str = "") -> str:
    return project_config(name, "classification", "species", ALL, VALIDATE + extra)


VALIDATE = """\
  thresholds:
    accuracy_score:
      threshold: 0.5
      min_relative_change: 0.0
"""


def make_project(root: Path) -> Path:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = [str(iris.target_names[t]) for t in frame.pop("target")]
    holdout = frame.sample(frac=0.3, random_state=3)
    (root / "data").mkdir(parents=True)
    frame.drop(index=holdout.index).to_csv(root / "data" / "train.csv", index=False)
    holdout.to_csv(root / "data" / "holdout.csv", index=False)
    write(root / "train.py", TRAIN)
    write(root / ".mlci.yml", config("iris"))
    commit_all(root)
    return root
