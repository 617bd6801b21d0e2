"""Train the churn classifier: a scikit-learn pipeline of preprocessing and
gradient boosting.

    python train.py --data data/train.csv --model-out model/

The fitted pipeline is always saved to ``<model-out>/model.joblib``. When the
environment variable ``MLFLOW_RUN_ID`` is set (the pipeline's train stage sets
it), the parameters, training metrics and model are also logged to that MLflow
run; without it, MLflow is never imported and no server is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

LABEL = "churned"
ID_COLUMN = "customer_id"
NUMERIC_FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "senior",
]
CATEGORICAL_FEATURES = ["contract", "payment_method", "internet_service", "region"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
MODEL_FILE = "model.joblib"


def build_pipeline(
    n_estimators: int = 150,
    max_depth: int = 3,
    learning_rate: float = 0.05,
    random_state: int = 0,
) -> Pipeline:
    """Preprocessing (impute + scale numerics, one-hot categoricals) and a classifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer([("num", numeric, NUMERIC_FEATURES), ("cat", categorical, CATEGORICAL_FEATURES)])
    classifier = GradientBoostingClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
        random_state=random_state,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def split_xy(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Feature columns (in a fixed order) and the label."""
    return df[FEATURES], df[LABEL]


def train(df: pd.DataFrame, **params: Any) -> tuple[Pipeline, dict[str, float]]:
    """Fit the pipeline on ``df`` and return it with its training metrics."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    x, y = split_xy(df)
    pipeline = build_pipeline(**params)
    pipeline.fit(x, y)
    metrics = {
        "train_accuracy": float(accuracy_score(y, pipeline.predict(x))),
        "train_roc_auc": float(roc_auc_score(y, pipeline.predict_proba(x)[:, 1])),
    }
    return pipeline, metrics


def save_model(pipeline: Pipeline, model_out: Path) -> Path:
    import joblib

    model_out.mkdir(parents=True, exist_ok=True)
    path = model_out / MODEL_FILE
    joblib.dump(pipeline, path)
    return path


def load_model(model_out: Path) -> Pipeline:
    import joblib

    return joblib.load(model_out / MODEL_FILE)


def log_to_mlflow(
    run_id: str,
    pipeline: Pipeline,
    params: dict[str, Any],
    metrics: dict[str, float],
    x: pd.DataFrame,
) -> None:
    """Log params, metrics and the model to an existing MLflow run."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    # Infer the signature from all training rows so columns with missing
    # values (total_charges) are marked optional.
    signature = infer_signature(x, pipeline.predict(x))
    with mlflow.start_run(run_id=run_id):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.sklearn.log_model(
            pipeline,
            name="model",
            input_example=x.head(5),
            signature=signature,
            # mlflow 3 defaults to skops, which refuses tree models.
            serialization_format="cloudpickle",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the churn classifier.")
    parser.add_argument("--data", type=Path, required=True, help="training CSV")
    parser.add_argument("--model-out", type=Path, default=Path("model"), help="output folder")
    parser.add_argument("--n-estimators", type=int, default=150)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    import pandas as pd

    params = {
        "n_estimators": args.n_estimators,
        "max_depth": args.max_depth,
        "learning_rate": args.learning_rate,
        "random_state": args.random_state,
    }
    started = time.perf_counter()
    df = pd.read_csv(args.data)
    pipeline, metrics = train(df, **params)
    metrics["train_seconds"] = round(time.perf_counter() - started, 3)

    path = save_model(pipeline, args.model_out)
    (args.model_out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    run_id = os.environ.get("MLFLOW_RUN_ID")
    if run_id:
        log_to_mlflow(run_id, pipeline, params, metrics, split_xy(df)[0])
        print(f"logged params, metrics and model to MLflow run {run_id}")

    print(f"saved model to {path}")
    print(f"train_accuracy: {metrics['train_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
