"""The metric gate against a champion: a champion that exists but has no value for a metric
gated relative to it cannot be compared with, and that is not a pass."""

from __future__ import annotations

import pytest

from mlci.config import MetricThreshold
from mlci.gate import checks


def test_a_relative_gate_fails_when_the_champion_lacks_the_metric() -> None:
    # A champion read from class probabilities gets no log_loss; a worse candidate must not pass.
    config = {"log_loss": MetricThreshold(min_relative_change=0.0)}
    found, _rows = checks.thresholds(config, {"log_loss": 9.9}, {"accuracy_score": 0.9}, "classification")
    assert [c.passed for c in found] == [False]
    assert "champion has no log_loss value" in found[0].message


def test_a_relative_gate_without_a_champion_still_passes() -> None:
    config = {"log_loss": MetricThreshold(min_relative_change=0.0)}
    found, _rows = checks.thresholds(config, {"log_loss": 9.9}, None, "classification")
    assert [c.passed for c in found] == [True] and "no champion yet" in found[0].message


@pytest.mark.parametrize(
    ("candidate", "champion"), [(float("nan"), 0.5), (0.9, float("nan")), (float("nan"), float("nan"))]
)
def test_a_nan_metric_fails_the_check_instead_of_crashing(candidate: float, champion: float) -> None:
    # MLflow's comparison raises decimal.InvalidOperation on NaN with min_absolute_change.
    for bound in (MetricThreshold(min_absolute_change=0.01), MetricThreshold(min_relative_change=0.0)):
        found, _rows = checks.thresholds(
            {"accuracy_score": bound}, {"accuracy_score": candidate}, {"accuracy_score": champion}, "classification"
        )
        assert [c.passed for c in found] == [False]
