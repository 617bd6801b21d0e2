"""Checks on the churn training pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import make_data
import numpy as np
import pandas as pd
import pytest
import train


@pytest.fixture(scope="module")
def splits() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_data.split(make_data.make_dataset(1000, seed=0), seed=0)


@pytest.fixture(scope="module")
def model(splits: tuple[pd.DataFrame, pd.DataFrame]):
    pipeline, _ = train.train(splits[0], n_estimators=50)
    return pipeline


def test_beats_majority_baseline(model, splits: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = train.split_xy(splits[1])
    accuracy = float((model.predict(x) == y).mean())
    baseline = max(y.mean(), 1 - y.mean())
    assert accuracy > baseline + 0.05
    assert accuracy < 1.0


def test_handles_unseen_category_and_nulls(model, splits: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x = train.split_xy(splits[1])[0].head(3).copy()
    x["contract"] = ["weekly", "month-to-month", None]
    x["region"] = ["mars", None, "north"]
    x["total_charges"] = [np.nan, np.nan, 100.0]
    x["monthly_charges"] = [np.nan, 50.0, 60.0]
    proba = model.predict_proba(x)[:, 1]
    assert proba.shape == (3,)
    assert np.isfinite(proba).all()
    assert set(model.predict(x)) <= {0, 1}


def test_extra_columns_are_ignored(model, splits: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    holdout = splits[1]
    assert (model.predict(holdout) == model.predict(train.split_xy(holdout)[0])).all()


def test_cli_saves_model_without_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data.main(["--rows", "600", "--seed", "1", "--out", str(tmp_path / "data")])
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any `import mlflow` now fails

    rc = train.main(
        [
            "--data",
            str(tmp_path / "data" / "train.csv"),
            "--model-out",
            str(tmp_path / "model"),
            "--n-estimators",
            "20",
            "--max-depth",
            "2",
        ]
    )
    assert rc == 0
    assert "train_accuracy:" in capsys.readouterr().out

    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert 0.5 < metrics["train_accuracy"] <= 1.0
    loaded = train.load_model(tmp_path / "model")
    holdout = pd.read_csv(tmp_path / "data" / "holdout.csv")
    assert len(loaded.predict(train.split_xy(holdout)[0])) == len(holdout)
