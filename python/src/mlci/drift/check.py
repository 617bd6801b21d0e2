"""The drift check: every reference column of the current data against the training reference,
a status per column (ok, warn, drift) naming the statistics that decided it, and dataset drift
when the share of drifted columns reaches `dataset_share`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlci.data import files
from mlci.drift import stats
from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

Status = Literal["ok", "warn", "drift"]


@dataclass(frozen=True)
class Thresholds:
    """When a statistic makes a column drift; `None` reports the statistic without deciding."""

    psi_warn: float = 0.1
    psi_drift: float = 0.25
    wasserstein: float | None = 0.2  # numeric, in reference standard deviations
    ks: float | None = None  # numeric, KS statistic D
    jensen_shannon: float | None = 0.1  # categorical, distance with natural log
    chi_square_pvalue: float | None = None  # categorical: drift when p is below this
    null_fraction: float | None = 0.05  # absolute change of the share of missing values
    dataset_share: float = 0.5

    @classmethod
    def from_config(cls, cfg: Any) -> Thresholds:
        return cls(
            psi_warn=cfg.psi_warn,
            psi_drift=cfg.psi_drift,
            wasserstein=cfg.wasserstein_drift,
            ks=cfg.ks_drift,
            jensen_shannon=cfg.jensen_shannon_drift,
            chi_square_pvalue=cfg.chi_square_pvalue,
            null_fraction=cfg.null_fraction_drift,
            dataset_share=cfg.dataset_share,
        )


@dataclass
class ColumnResult:
    name: str
    stats: stats.ColumnStats
    status: Status
    reasons: list[str]  # "wasserstein 0.31 ≥ 0.2": the statistic, its value and the threshold


@dataclass
class DriftResult:
    columns: list[ColumnResult]
    rows: int  # rows in the current data
    rows_used: int  # after sampling
    thresholds: Thresholds
    ignored: list[str] = field(default_factory=list)  # current columns the reference does not have

    @property
    def drifted(self) -> list[ColumnResult]:
        return [c for c in self.columns if c.status == "drift"]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share >= self.thresholds.dataset_share


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def decide(col: stats.ColumnStats, t: Thresholds) -> tuple[Status, list[str]]:
    s = col.statistics
    reasons: list[str] = []
    psi = s["psi"] or 0.0
    if psi >= t.psi_drift:
        reasons.append(f"psi {_fmt(psi)} ≥ {t.psi_drift}")
    checks: list[tuple[str, float | None]] = (
        [("wasserstein", t.wasserstein), ("ks", t.ks)]
        if col.kind == "numeric"
        else [("jensen_shannon", t.jensen_shannon)]
    )
    for name, limit in checks:
        value = s.get(name)
        if limit is not None and value is not None and value >= limit:
            reasons.append(f"{name} {_fmt(value)} ≥ {limit}")
    p = s.get("chi_square_pvalue")
    if t.chi_square_pvalue is not None and p is not None and p < t.chi_square_pvalue:
        reasons.append(f"chi_square p {p:.2g} < {t.chi_square_pvalue}")
    ref_null, cur_null = col.null_fraction
    if t.null_fraction is not None and abs(cur_null - ref_null) >= t.null_fraction:
        reasons.append(f"null_fraction {ref_null:.1%} → {cur_null:.1%} (change ≥ {t.null_fraction:.0%})")
    if reasons:
        return "drift", reasons
    if psi >= t.psi_warn:
        return "warn", [f"psi {_fmt(psi)} ≥ {t.psi_warn}"]
    return "ok", []


def _numeric_values(series: pd.Series, name: str, source: str) -> Any:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    coerced = pd.to_numeric(series, errors="coerce")
    bad = series.notna().to_numpy() & coerced.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{source}: column {name!r} is numeric in the drift reference but holds text: "
            f"{series.iloc[row]!r} in data row {row + 1}"
        )
    return coerced.to_numpy(dtype="float64", na_value=np.nan)


def _category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    missing = int(series.isna().sum())
    counts: dict[str, int] = {}
    # Strings as the reference stores them: True -> "True", 3 -> "3".
    for value, n in series.value_counts(dropna=True).items():
        key = str(value)
        counts[key] = counts.get(key, 0) + int(n)
    return counts, missing


def sample(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """At most `max_rows` rows, drawn without replacement with a fixed seed."""
    if len(frame) <= max_rows:
        return frame
    return frame.take(files.sample_indices(len(frame), max_rows))


def compare(
    reference: dict[str, Any], frame: pd.DataFrame, thresholds: Thresholds, source: str, sample_rows: int
) -> DriftResult:
    """Every reference column of `frame` against the reference; `source` names the data in errors."""
    wanted = list(reference["columns"])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: column {', '.join(repr(c) for c in missing)} of the drift reference "
            f"{'is' if len(missing) == 1 else 'are'} missing from the current data"
        )
    rows = int(frame.attrs.get(files.ROWS_ATTR, len(frame)))  # before a sample taken while reading
    if len(frame) == 0:
        raise InputError(f"{source}: empty dataset: no rows")
    used = sample(frame[wanted], sample_rows)
    ref_rows = int(reference.get("rows") or rows)
    results: list[ColumnResult] = []
    for name in wanted:
        ref = reference["columns"][name]
        series = used[name]
        if ref["kind"] == "numeric":
            col = stats.numeric(ref, _numeric_values(series, name, source), ref_rows)
        else:
            counts, null_rows = _category_counts(series)
            col = stats.categorical(ref, counts, null_rows, ref_rows)
        status, reasons = decide(col, thresholds)
        results.append(ColumnResult(name, col, status, reasons))
    ignored = [str(c) for c in frame.columns if c not in reference["columns"]]
    return DriftResult(results, rows, len(used), thresholds, ignored)
