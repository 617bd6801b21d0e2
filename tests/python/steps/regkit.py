"""A small regression project for the model-gate tests: scikit-learn's bundled diabetes data
(no download) and a plain `Ridge` (no ColumnTransformer) whose `--features` make a weak or a
strong model. Its holdout carries two columns the model does not take: `row_id` and
`sex_group` (used only for slices)."""

from __future__ import annotations

from pathlib import Path

from gatekit import TRAIN_ARGS, commit_all, project_config

from conftest import write

ALL = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6"
WEAK = "age,sex"

TRAIN = (
    TRAIN_ARGS
    + """\
x, y = df[features], df["progression"]

import mlflow
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

model = Ridge(alpha=0.01).fit(x, y)
with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
    mlflow.sklearn.log_model(
        model, name="model", signature=infer_signature(x, model.predict(x)), pip_requirements=["scikit-learn"]
    )
"""
)


def config(name: str, extra: str = "") -> str:
    return project_config(name, "regression", "progression", ALL, VALIDATE + extra)


VALIDATE = """\
  thresholds:
    root_mean_squared_error:
      min_relative_change: 0.0
"""


def make_project(root: Path) -> Path:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=True).frame.rename(columns={"target": "progression"})
    holdout = frame.sample(frac=0.25, random_state=7)
    train = frame.drop(index=holdout.index)
    holdout = holdout.assign(row_id=range(len(holdout)), sex_group=(holdout["sex"] > 0).map({True: "a", False: "b"}))
    (root / "data").mkdir(parents=True)
    train.to_csv(root / "data" / "train.csv", index=False)
    holdout.to_csv(root / "data" / "holdout.csv", index=False)
    write(root / "train.py", TRAIN)
    write(root / ".mlci.yml", config("diabetes"))
    commit_all(root)
    return root
