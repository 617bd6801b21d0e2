"""The model gate for a regressor: an error metric is lower-is-better, a holdout column the model
does not take (an id, a slice column) is left out of prediction, kept for slices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import regkit
from gatekit import aliases, champion, client, sqlite_store, step, train_runs


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = regkit.make_project(tmp_path_factory.mktemp("gate") / "diabetes")
    with sqlite_store(root):
        yield train_runs(root, regkit.config, {"strong": regkit.ALL, "weak": regkit.WEAK})


def test_worse_regressor_is_rejected_naming_the_error_metric_and_both_values(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    champion(root, "worse-reg", gate["strong"], regkit.config)
    code, result = step("validate", "worse-reg", root, render=regkit.config, runId=gate["weak"])
    assert code == 1, result["summary"]
    cand = result["outputs"]["metrics"]["root_mean_squared_error"]
    champ = json.loads(
        client().get_model_version("worse-reg", "1").tags[f"mlci.metrics.{result['outputs']['holdoutDigest']}"]
    )["root_mean_squared_error"]
    assert cand > champ
    assert result["summary"] == (
        f"1 of 1 checks failed (vs champion v1): metric root_mean_squared_error: root_mean_squared_error "
        f"{cand:.4f} vs champion {champ:.4f}: misses <= champion - 0.0% = {champ:.4f}"
    )
    code, result = step("register", "worse-reg", root, render=regkit.config, runId=gate["weak"])
    assert (code, aliases("worse-reg")) == (1, {"champion": "1"})


def test_better_regressor_passes(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    champion(root, "better-reg", gate["weak"], regkit.config)
    code, result = step("validate", "better-reg", root, render=regkit.config, runId=gate["strong"])
    assert code == 0, result["summary"]
    assert result["outputs"]["checks"] == {"metric root_mean_squared_error": "passed"}


def test_holdout_columns_the_model_does_not_take_are_kept_for_slices(gate: dict[str, str]) -> None:
    """A plain estimator refuses unseen feature names; `row_id` and `sex_group` must not reach it,
    for the candidate nor for a champion re-evaluated on a new holdout."""
    root = Path(gate["root"])
    import pandas as pd

    champion(root, "sliced-reg", gate["weak"], regkit.config)
    pd.read_csv(root / "data" / "holdout.csv").head(80).to_csv(root / "data" / "holdout-80.csv", index=False)
    extra = "  slices:\n    - {column: sex_group, metric: mean_absolute_error, max: 1000, max_gap: 1000}\n"
    code, result = step(
        "validate",
        "sliced-reg",
        root,
        extra=extra,
        render=regkit.config,
        runId=gate["strong"],
        holdout="data/holdout-80.csv",
    )
    assert code == 0, result["summary"]
    assert result["outputs"]["championMetricsReused"] is False  # the champion was evaluated on it too
    assert result["outputs"]["checks"] == {
        "metric root_mean_squared_error": "passed",
        "slices sex_group mean_absolute_error max": "passed",
        "slices sex_group mean_absolute_error gap": "passed",
    }
    md = (root / "reports" / "validate" / "summary.md").read_text()
    assert "sex_group" in md
