"""Drift statistics against the quantile sketch, checked against the exact statistics on the
raw training data (which the drift check never sees)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mlci.drift import reference, stats

N = 20_000


def numeric_ref(x: np.ndarray) -> dict:
    return reference.compute(pd.DataFrame({"x": x}))["columns"]["x"]


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.3, 1.0])
def test_ks_and_wasserstein_are_within_their_bounds_of_the_exact_values(shift: float) -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(5, 2, N)
    current = rng.normal(5 + 2 * shift, 2, N)
    col = stats.numeric(numeric_ref(train), current, N)
    exact_ks = scipy_stats.ks_2samp(train, current).statistic
    exact_w = scipy_stats.wasserstein_distance(train, current) / train.std()
    assert col.statistics["ks"] == pytest.approx(exact_ks, abs=0.01)
    assert col.statistics["wasserstein"] == pytest.approx(exact_w, abs=0.01)
    assert col.statistics["wasserstein"] == pytest.approx(shift, abs=0.03)


def test_discrete_column_ks_handles_ties() -> None:
    rng = np.random.default_rng(2)
    train = rng.poisson(1.0, N).astype(float)
    current = rng.poisson(2.0, N).astype(float)
    col = stats.numeric(numeric_ref(train), current, N)
    assert col.statistics["ks"] == pytest.approx(scipy_stats.ks_2samp(train, current).statistic, abs=0.01)
    same = stats.numeric(numeric_ref(train), rng.poisson(1.0, N).astype(float), N)
    assert same.statistics["ks"] < 0.02 and same.statistics["psi"] < 0.01


def test_psi_counts_missing_values_as_their_own_bin() -> None:
    rng = np.random.default_rng(3)
    train = rng.normal(0, 1, N)
    current = rng.normal(0, 1, N)
    current[: N // 5] = np.nan
    col = stats.numeric(numeric_ref(train), current, N)
    assert col.null_fraction == pytest.approx((0.0, 0.2))
    # The missing bin alone: (0.2 - eps) * ln(0.2 / eps) plus the rescaled value bins.
    assert col.statistics["psi"] > 1.0
    assert col.labels[-1] == stats.MISSING and col.current[-1] == pytest.approx(0.2)
    assert sum(col.reference) == pytest.approx(1.0) and sum(col.current) == pytest.approx(1.0)


def test_all_missing_current_column_has_psi_but_no_distribution_statistics() -> None:
    train = np.random.default_rng(4).normal(0, 1, 1000)
    col = stats.numeric(numeric_ref(train), np.full(100, np.nan), 1000)
    assert col.statistics["ks"] is None and col.statistics["wasserstein"] is None
    assert col.statistics["psi"] > 5


def test_categorical_statistics_and_new_values() -> None:
    ref = reference.compute(pd.DataFrame({"c": ["a"] * 600 + ["b"] * 400}))["columns"]["c"]
    same = stats.categorical(ref, {"a": 300, "b": 200}, 0, 1000)
    assert same.statistics["psi"] == pytest.approx(0.0, abs=1e-9)
    assert same.statistics["jensen_shannon"] == pytest.approx(0.0, abs=1e-9)
    assert same.statistics["chi_square_pvalue"] > 0.95
    new = stats.categorical(ref, {"a": 270, "b": 180, "z": 50}, 0, 1000)
    assert new.new_values == [("z", 0.1)]
    assert new.labels == ["a", "b", stats.OTHER, stats.MISSING]
    assert new.current == pytest.approx([0.54, 0.36, 0.1, 0.0])
    # Empty bins count as EPSILON: -0.1 * ln(0.9) for a and b, (0.1 - eps) * ln(0.1 / eps) for the new value.
    expected = -0.1 * np.log(0.9) + (0.1 - stats.EPSILON) * np.log(0.1 / stats.EPSILON)
    assert new.statistics["psi"] == pytest.approx(expected)
    assert new.statistics["chi_square_pvalue"] < 1e-6


def test_jensen_shannon_matches_scipy() -> None:
    from scipy.spatial.distance import jensenshannon

    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.3, 0.4, 0.2])
    assert stats.jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q))
