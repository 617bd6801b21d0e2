"""The gate's checks: metric thresholds (MLflow's semantics, applied by MLflow), slices and budgets.

Every check is a `reports.Check` whose message states what was observed against what was
required, so that a summary of the failing checks is the whole story.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.contracts import did_you_mean
from mlci.errors import InputError
from mlci.gate import metrics
from mlci.reports import Check

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class MetricRow:
    """One metric of the comparison table."""

    name: str
    candidate: float
    champion: float | None
    gated: bool
    passed: bool | None  # None: not gated

    @property
    def delta(self) -> float | None:
        return None if self.champion is None else self.candidate - self.champion

    @property
    def delta_pct(self) -> float | None:
        if self.champion is None or self.champion == 0:
            return None
        return (self.candidate - self.champion) / abs(self.champion) * 100


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return f"{value:.4g}" if abs(value) >= 1e4 or (value != 0 and abs(value) < 1e-3) else f"{value:.4f}"


def _required(t: Any, greater: bool, champion: float | None) -> list[str]:
    op, sign = (">=", 1) if greater else ("<=", -1)
    parts = []
    if t.threshold is not None:
        parts.append(f"{op} {fmt(t.threshold)}")
    if champion is not None:
        if t.min_absolute_change is not None:
            bound = champion + sign * t.min_absolute_change
            parts.append(f"{op} champion {'+' if sign > 0 else '-'} {fmt(t.min_absolute_change)} = {fmt(bound)}")
        if t.min_relative_change is not None:
            bound = champion + sign * t.min_relative_change * abs(champion)
            parts.append(f"{op} champion {'+' if sign > 0 else '-'} {t.min_relative_change:.1%} = {fmt(bound)}")
    return parts


def thresholds(
    config: dict[str, Any], candidate: dict[str, float], champion: dict[str, float] | None, task: str
) -> tuple[list[Check], list[MetricRow]]:
    """Apply `validate.thresholds` with `mlflow.validate_evaluation_results`, one metric at a
    time so that each metric is its own check. Without a champion only absolute thresholds
    apply; a metric gated only relative to the champion passes with that said. The direction
    of each metric is the known one (gate/metrics.py), never a default."""
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException, validate_evaluation_results

    checks: list[Check] = []
    gated: dict[str, bool] = {}
    for name, t in config.items():
        if name not in candidate:
            known = sorted(candidate)
            raise InputError(
                f"validate.thresholds.{name}: the evaluation computed no metric {name!r}{did_you_mean(name, known)} "
                f"(computed: {', '.join(known)})"
            )
        # A champion whose metrics lack this one is compared on absolute terms only.
        base = None if champion is None else champion.get(name)
        champion_part = base is not None
        greater = metrics.greater_is_better(task, name, t.greater_is_better)
        kwargs: dict[str, Any] = {"threshold": t.threshold, "greater_is_better": greater}
        if champion_part:
            relative = None if t.min_relative_change is None else float(t.min_relative_change)
            kwargs |= {"min_absolute_change": t.min_absolute_change, "min_relative_change": relative}
        value = candidate[name]
        if all(kwargs.get(k) is None for k in ("threshold", "min_absolute_change", "min_relative_change")):
            checks.append(
                Check(f"metric {name}", True, f"{name} {fmt(value)}: no champion yet, relative check skipped")
            )
            gated[name] = True
            continue
        try:
            validate_evaluation_results(
                {name: MetricThreshold(**kwargs)},  # type: ignore[no-untyped-call]
                EvaluationResult(metrics=candidate, artifacts={}),  # type: ignore[no-untyped-call]
                EvaluationResult(metrics=champion, artifacts={})  # type: ignore[no-untyped-call]
                if champion_part and champion
                else None,
            )
            passed = not math.isnan(value)  # NaN never passes, whatever the comparison said
        except ModelValidationFailedException:
            passed = False
        required = " and ".join(_required(t, greater, base if champion_part else None))
        against = f" vs champion {fmt(base)}" if base is not None else ""
        verdict = "meets" if passed else "misses"
        checks.append(Check(f"metric {name}", passed, f"{name} {fmt(value)}{against}: {verdict} {required}"))
        gated[name] = passed
    rows = [
        MetricRow(n, v, None if champion is None else champion.get(n), n in gated, gated.get(n))
        for n, v in sorted(candidate.items(), key=lambda kv: (kv[0] not in gated, kv[0]))
    ]
    return checks, rows


# ---------------------------------------------------------------- slices


def _classification(name: str) -> Callable[..., float] | None:
    from sklearn import metrics as m

    return {
        "accuracy_score": m.accuracy_score,
        "f1_score": m.f1_score,
        "precision_score": m.precision_score,
        "recall_score": m.recall_score,
    }.get(name)


def _regression(name: str) -> Callable[..., float] | None:
    from sklearn import metrics as m

    return {
        "mean_absolute_error": m.mean_absolute_error,
        "mean_squared_error": m.mean_squared_error,
        "root_mean_squared_error": m.root_mean_squared_error,
        "r2_score": m.r2_score,
        "max_error": m.max_error,
    }.get(name)


@dataclass(frozen=True)
class SliceResult:
    column: str
    metric: str
    values: dict[str, tuple[float, int]]  # slice value -> (metric, rows)


def _scorer(metric: str, task: str, labels: list[Any], key: str) -> Callable[[Any, Any], float]:
    fn = _classification(metric) if task == "classification" else _regression(metric)
    if fn is None:
        raise InputError(f"{key}: {metrics.slice_problem(task, metric)}")
    if task == "classification" and metric != "accuracy_score":
        # MLflow's conventions: binary metrics for the positive (larger) label, else weighted.
        kwargs: dict[str, Any] = {"zero_division": 0}
        kwargs |= {"pos_label": max(labels)} if len(labels) == 2 else {"average": "weighted"}
        return lambda y, p: float(fn(y, p, **kwargs))
    return lambda y, p: float(fn(y, p))


def slices(
    config: list[Any], frame: pd.DataFrame, target: str, predictions: Any, task: str
) -> tuple[list[Check], list[SliceResult]]:
    import numpy as np

    checks: list[Check] = []
    results: list[SliceResult] = []
    y = frame[target].to_numpy()
    p = np.asarray(predictions).reshape(len(frame), -1)[:, 0]
    labels = sorted(set(y.tolist()))
    for i, sc in enumerate(config):
        key = f"validate.slices[{i}]"
        if sc.column not in frame.columns:
            raise InputError(
                f"{key}.column: column {sc.column!r} not in the holdout{did_you_mean(sc.column, frame.columns)}"
            )
        score = _scorer(sc.metric, task, labels, f"{key}.metric")
        groups = frame[sc.column].astype("string").fillna("(missing)").to_numpy()
        values = {}
        for value in sorted(set(groups.tolist())):
            mask = groups == value
            values[str(value)] = (score(y[mask], p[mask]), int(mask.sum()))
        results.append(SliceResult(sc.column, sc.metric, values))
        name = f"slices {sc.column} {sc.metric}"
        worst = min(values.items(), key=lambda kv: kv[1][0])
        best = max(values.items(), key=lambda kv: kv[1][0])
        if sc.min is not None:
            ok = worst[1][0] >= sc.min
            checks.append(
                Check(
                    f"{name} min",
                    ok,
                    f"{sc.column}={worst[0]} {sc.metric} {fmt(worst[1][0])} (lowest of {len(values)} slices): "
                    f"{'meets' if ok else 'misses'} >= {fmt(sc.min)}",
                )
            )
        if sc.max is not None:
            ok = best[1][0] <= sc.max
            checks.append(
                Check(
                    f"{name} max",
                    ok,
                    f"{sc.column}={best[0]} {sc.metric} {fmt(best[1][0])} (highest of {len(values)} slices): "
                    f"{'meets' if ok else 'misses'} <= {fmt(sc.max)}",
                )
            )
        if sc.max_gap is not None:
            gap = best[1][0] - worst[1][0]
            ok = gap <= sc.max_gap
            checks.append(
                Check(
                    f"{name} gap",
                    ok,
                    f"{sc.metric} gap {fmt(gap)} between {sc.column}={best[0]} ({fmt(best[1][0])}) and "
                    f"{sc.column}={worst[0]} ({fmt(worst[1][0])}): {'meets' if ok else 'misses'} <= {fmt(sc.max_gap)}",
                )
            )
    return checks, results


# ---------------------------------------------------------------- budgets


def size(size_bytes: int, budget_mb: float | None) -> list[Check]:
    if budget_mb is None:
        return []
    mb = size_bytes / 1e6
    ok = mb <= budget_mb
    return [Check("model size", ok, f"model size {mb:.2f} MB: {'within' if ok else 'over'} budget {budget_mb:g} MB")]


def latency(p95_ms: float | None, rows: int, budget_ms: float | None) -> list[Check]:
    if budget_ms is None or p95_ms is None:
        return []
    ok = p95_ms <= budget_ms
    verdict = "within" if ok else "over"
    return [Check("latency p95", ok, f"predict p95 {p95_ms:.1f} ms for {rows} rows: {verdict} budget {budget_ms:g} ms")]
