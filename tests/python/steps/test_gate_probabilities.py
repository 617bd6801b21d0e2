"""A classifier whose predict returns class probabilities (a native multi-class LightGBM
Booster): read as labels by argmax over the labels `mlci train` recorded, said in the report;
without recorded labels refused with exit 2 naming the output's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boosterkit
import pytest
from gatekit import aliases, champion, client, experiment, sqlite_store, step, train_runs


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = boosterkit.make_project(tmp_path_factory.mktemp("gate") / "iris")
    with sqlite_store(root):
        yield train_runs(root, boosterkit.config, {"strong": boosterkit.ALL, "weak": boosterkit.WEAK})


def test_train_records_the_sorted_training_labels(gate: dict[str, str]) -> None:
    tags = client().get_run(gate["strong"]).data.tags
    assert json.loads(tags["mlci.labels"]) == ["setosa", "versicolor", "virginica"]


def test_probabilities_are_read_as_labels_and_the_report_says_so(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    code, result = step("validate", "iris-first", root, render=boosterkit.config, runId=gate["strong"])
    assert code == 0, result["summary"]
    assert result["outputs"]["metrics"]["accuracy_score"] > 0.9
    note = (
        f"the candidate {result['outputs']['modelUri']} returns class probabilities, shape (45, 3): each row's "
        "label is the argmax over the training labels recorded at train time, in sorted order "
        "(setosa, versicolor, virginica)"
    )
    assert f"Note: {note}." in (root / "reports" / "validate" / "summary.md").read_text()
    assert json.loads((root / "reports" / "validate" / "validation.json").read_text())["notes"] == [note]


def test_a_worse_booster_is_rejected_against_a_booster_champion(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    import pandas as pd

    champion(root, "iris-worse", gate["strong"], boosterkit.config)
    pd.read_csv(root / "data" / "holdout.csv").head(40).to_csv(root / "data" / "holdout-40.csv", index=False)
    code, result = step(
        "validate", "iris-worse", root, render=boosterkit.config, runId=gate["weak"], holdout="data/holdout-40.csv"
    )
    assert code == 1, result["summary"]
    assert result["outputs"]["championMetricsReused"] is False  # the champion's probabilities were read too
    cand = result["outputs"]["metrics"]["accuracy_score"]
    assert f"metric accuracy_score: accuracy_score {cand:.4f} vs champion " in result["summary"]
    summary = (root / "reports" / "validate" / "summary.md").read_text()
    assert "Note: champion iris-worse version 1 " in summary and "shape (40, 3)" in summary
    assert aliases("iris-worse") == {"champion": "1"}


def test_probabilities_without_recorded_labels_exit_2_naming_the_shape(gate: dict[str, str]) -> None:
    import lightgbm
    import mlflow
    import pandas as pd

    root = Path(gate["root"])
    train = pd.read_csv(root / "data" / "train.csv")
    x, y = train[boosterkit.ALL.split(",")], train["species"].astype("category").cat.codes
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(x, y), 5)
    with mlflow.start_run(experiment_id=experiment("unlabelled")) as run:
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
    code, result = step("validate", "iris-unlabelled", root, render=boosterkit.config, runId=run.info.run_id)
    assert code == 2, result["summary"]
    assert result["summary"].startswith(
        f"the candidate {info.model_uri} returns class probabilities of shape (45, 3), not one label per row, "
        "and no labels were recorded for its run (tag mlci.labels"
    )
