"""The drift decision on seeded shifts, thresholds, sampling and bad current data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mlci.drift import check, reference
from mlci.errors import InputError

N = 20_000
CITIES = ["north", "south", "east", "west"]


def frame(seed: int, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(10, 2, n),
            "b": rng.normal(-3, 0.5, n),
            "c": rng.normal(100, 20, n),
            "d": rng.exponential(3, n),
            "city": rng.choice(CITIES, n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def ref() -> dict:
    return reference.compute(frame(0))


def flagged(ref: dict, current: pd.DataFrame, **thresholds: float | None) -> list[str]:
    result = check.compare(ref, current, check.Thresholds(**thresholds), "current.csv", 100_000)
    return [c.name for c in result.drifted]


def test_no_shift_flags_nothing(ref: dict) -> None:
    result = check.compare(ref, frame(1), check.Thresholds(), "current.csv", 100_000)
    assert [c.status for c in result.columns] == ["ok"] * 5
    assert not result.dataset_drift and result.share == 0


@pytest.mark.parametrize(("sigmas", "drifts"), [(0.1, False), (0.3, True), (1.0, True)])
def test_mean_shift(ref: dict, sigmas: float, drifts: bool) -> None:
    current = frame(1)
    current["a"] += 2 * sigmas
    assert flagged(ref, current) == (["a"] if drifts else [])


def test_a_shift_is_named_by_its_statistic(ref: dict) -> None:
    current = frame(1)
    current["a"] += 2 * 0.3  # PSI stays under 0.25 for 0.3 sigma: Wasserstein decides
    [col] = [c for c in check.compare(ref, current, check.Thresholds(), "x", 100_000).columns if c.name == "a"]
    assert col.status == "drift"
    assert len(col.reasons) == 1 and re.fullmatch(r"wasserstein 0\.(2[5-9]|3[0-5])\d* ≥ 0\.2", col.reasons[0])
    assert flagged(ref, current, wasserstein=None) == []  # reported only: PSI alone does not flag it


def test_new_category_and_missing_burst(ref: dict) -> None:
    current = frame(1)
    current.loc[: N // 10, "city"] = "atlantis"
    current.loc[: N // 5, "d"] = np.nan
    result = check.compare(ref, current, check.Thresholds(), "x", 100_000)
    by_name = {c.name: c for c in result.columns}
    assert [c.name for c in result.drifted] == ["d", "city"]
    assert by_name["city"].stats.new_values[0][0] == "atlantis"
    assert any(r.startswith("null_fraction 0.0% → 20.0%") for r in by_name["d"].reasons)


def test_warn_band_and_dataset_share(ref: dict) -> None:
    current = frame(1)
    current["city"] = np.random.default_rng(5).choice(CITIES, N, p=[0.25, 0.3, 0.25, 0.2])  # PSI about 0.15
    result = check.compare(ref, current, check.Thresholds(jensen_shannon=None), "x", 100_000)
    assert {c.name: c.status for c in result.columns}["city"] == "warn"
    for col in ["a", "b", "c"]:
        current[col] += 10
    result = check.compare(ref, current, check.Thresholds(jensen_shannon=None), "x", 100_000)
    assert (result.share, result.dataset_drift) == (0.6, True)
    assert not check.compare(
        ref, current, check.Thresholds(jensen_shannon=None, dataset_share=0.61), "x", 100_000
    ).dataset_drift


def test_sampling_is_seeded_and_bounded(ref: dict) -> None:
    current = frame(1, 50_000)
    first = check.compare(ref, current, check.Thresholds(), "x", 10_000)
    second = check.compare(ref, current, check.Thresholds(), "x", 10_000)
    assert (first.rows, first.rows_used) == (50_000, 10_000)
    assert [c.stats.statistics for c in first.columns] == [c.stats.statistics for c in second.columns]


def test_extra_columns_are_ignored(ref: dict) -> None:
    current = frame(1).assign(prediction=1)
    assert check.compare(ref, current, check.Thresholds(), "x", 100_000).ignored == ["prediction"]


def test_missing_column_names_file_and_column(ref: dict) -> None:
    with pytest.raises(InputError) as err:
        check.compare(ref, frame(1).drop(columns=["c"]), check.Thresholds(), "data/current.csv", 100_000)
    assert str(err.value) == "data/current.csv: column 'c' of the drift reference is missing from the current data"


def test_text_in_a_numeric_column_names_file_column_and_row(ref: dict) -> None:
    current = frame(1).astype({"b": object})
    current.loc[7, "b"] = "n/a"
    with pytest.raises(InputError) as err:
        check.compare(ref, current, check.Thresholds(), "data/current.csv", 100_000)
    assert str(err.value) == (
        "data/current.csv: column 'b' is numeric in the drift reference but holds text: 'n/a' in data row 8"
    )


def test_numbers_as_strings_are_accepted(ref: dict) -> None:
    current = frame(1).astype({"a": str})
    assert flagged(ref, current) == []
