from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci.drift import reference
from mlci.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 10_000
    x = rng.normal(50, 10, n)
    x[:200] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, n),
            "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "flag": rng.random(n) < 0.1,
            "label": rng.integers(0, 2, n),
        }
    )


def test_numeric_column(frame: pd.DataFrame) -> None:
    ref = reference.compute(frame, exclude=["label"])
    col = ref["columns"]["x"]
    assert col["kind"] == "numeric"
    assert col["null_fraction"] == 0.02
    assert len(col["bin_edges"]) == 9 and col["bin_edges"] == sorted(col["bin_edges"])
    assert sum(col["bin_fractions"]) == pytest.approx(1.0)
    assert all(f == pytest.approx(0.1, abs=0.002) for f in col["bin_fractions"])  # quantile bins are equal-mass
    assert len(col["quantiles"]) == 101
    assert col["quantiles"][50] == pytest.approx(50, abs=0.5)
    assert col["mean"] == pytest.approx(50, abs=0.5) and col["std"] == pytest.approx(10, abs=0.5)


def test_few_distinct_values_collapse_edges(frame: pd.DataFrame) -> None:
    col = reference.compute(frame)["columns"]["k"]
    assert col["bin_edges"] == sorted(set(col["bin_edges"]))
    assert len(col["bin_fractions"]) == len(col["bin_edges"]) + 1
    assert sum(col["bin_fractions"]) == pytest.approx(1.0)


def test_categorical_and_bool_columns(frame: pd.DataFrame) -> None:
    ref = reference.compute(frame)
    city = ref["columns"]["city"]
    assert city["kind"] == "categorical" and list(city["frequencies"]) == ["a", "b", "c"]
    assert city["frequencies"]["a"] == pytest.approx(0.5, abs=0.02)
    assert ref["columns"]["flag"]["kind"] == "categorical"


def test_rare_categories_fold_into_other() -> None:
    df = pd.DataFrame({"c": [f"v{i % 60}" for i in range(600)]})
    col = reference.compute(df, max_categories=50)["columns"]["c"]
    assert len(col["frequencies"]) == 50 and col["other_fraction"] == pytest.approx(10 / 60, abs=1e-6)


def test_excluded_and_all_null_columns() -> None:
    df = pd.DataFrame({"a": [np.nan, np.nan], "label": [0, 1]})
    ref = reference.compute(df, exclude=["label"])
    assert list(ref["columns"]) == ["a"]
    assert ref["columns"]["a"] == {
        "kind": "numeric",
        "null_fraction": 1.0,
        "bin_edges": [],
        "bin_fractions": [],
        "quantiles": [],
    }


def test_round_trip_is_plain_json_and_small(frame: pd.DataFrame, tmp_path: Path) -> None:
    ref = reference.compute(frame)
    path = reference.save(ref, tmp_path / "ref.json")
    assert reference.load(path) == json.loads(json.dumps(ref))
    assert path.stat().st_size < 10_000


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="drift reference not found"):
        reference.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match=r"bad\.json:1 invalid JSON in the drift reference"):
        reference.load(tmp_path / "bad.json")
    (tmp_path / "foreign.json").write_text('{"version": 99}')
    with pytest.raises(InputError, match="not an mlci drift reference"):
        reference.load(tmp_path / "foreign.json")
