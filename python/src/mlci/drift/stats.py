"""Drift statistics of one column against its training reference, vectorised with numpy.

The reference holds no raw training values (see `reference.py`), so:

- PSI uses the reference's quantile bins, plus one bin for missing values; an empty bin counts
  as `EPSILON` so that a value the reference never saw gives a large, finite PSI.
- KS and Wasserstein use the reference's 101-point quantile sketch. KS is evaluated at the sketch
  points: between two of them the reference CDF rises by 1/100, so the statistic is within
  0.01 of the exact two-sample KS on the training data. Wasserstein-1 is computed between the
  reference sketch and the same 101-point sketch of the current data (both quantile functions
  interpolated linearly): by the triangle inequality it is within (range_ref + range_cur) / 100
  of the exact distance in the worst case, and within 0.01 standard deviations on the
  benchmark's data. It is normalised by the reference standard deviation (as Evidently does),
  so 0.3 means "0.3 sigma".
- Categorical columns compare value shares over the reference's categories, one `other` bin
  (values outside the reference's top categories, new values included) and one missing bin:
  PSI, chi-square goodness of fit and Jensen-Shannon distance (natural log, like scipy's).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPSILON = 1e-4  # share given to an empty bin in PSI and chi-square
OTHER, MISSING = "(other)", "(missing)"
QUANTILE_GRID = 1001  # points at which Wasserstein compares the two quantile functions


@dataclass
class ColumnStats:
    """What the check decides on, and what the report plots (`labels`, `reference`, `current`)."""

    kind: str
    rows: int  # current rows, missing values included
    null_fraction: tuple[float, float]  # (reference, current)
    statistics: dict[str, float | None]
    labels: list[str] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    current: list[float] = field(default_factory=list)
    new_values: list[tuple[str, float]] = field(default_factory=list)  # unseen categories and their share
    mean: tuple[float | None, float | None] = (None, None)  # numeric: (reference, current)


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    r = np.clip(ref, EPSILON, None)
    c = np.clip(cur, EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> float:
    p, q = ref / ref.sum(), cur / cur.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def _ks_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    from scipy.special import kolmogorov

    en = n_ref * n_cur / (n_ref + n_cur)
    # Stephens' small-sample correction of the asymptotic Kolmogorov distribution.
    return float(kolmogorov((math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)) * d))


def _labels_for_bins(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    inner = [f"({a:.4g}, {b:.4g}]" for a, b in itertools.pairwise(edges)]
    return [f"≤ {edges[0]:.4g}", *inner, f"> {edges[-1]:.4g}"]


def numeric(ref: dict[str, Any], values: np.ndarray, ref_rows: int) -> ColumnStats:
    """`values`: the current column as float64, NaN for missing."""
    n_all = values.size
    present = np.sort(values[~np.isnan(values)])
    n = present.size
    null_ref = float(ref.get("null_fraction") or 0.0)
    null_cur = 1 - n / n_all
    edges = np.asarray(ref["bin_edges"], dtype="float64")
    ref_bins = np.asarray(ref["bin_fractions"], dtype="float64") * (1 - null_ref)
    # side="left" as in the reference: a value equal to an edge falls in the bin below it.
    cur_bins = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1) / n_all
    if ref_bins.size == 0:  # the training column was all missing: only the missing bin compares
        ref_bins, cur_bins = np.zeros(0), np.zeros(0)
    ref_full = np.append(ref_bins, null_ref)
    cur_full = np.append(cur_bins[: ref_bins.size], null_cur)
    stats: dict[str, float | None] = {"psi": psi(ref_full, cur_full), "ks": None, "ks_pvalue": None}
    stats["wasserstein"] = None
    quantiles = np.asarray(ref["quantiles"], dtype="float64")
    mean_cur = float(present.mean()) if n else None
    if n and quantiles.size:
        grid = np.linspace(0, 1, quantiles.size)
        # KS at the sketch points, right limits and left limits (ties in discrete columns).
        right = np.searchsorted(present, quantiles, side="right") / n
        left = np.searchsorted(present, quantiles, side="left") / n
        last_tie = np.searchsorted(quantiles, quantiles, side="right") - 1
        first_tie = np.searchsorted(quantiles, quantiles, side="left")
        d = float(max(np.max(np.abs(right - grid[last_tie])), np.max(np.abs(left - grid[first_tie]))))
        stats["ks"] = d
        stats["ks_pvalue"] = _ks_pvalue(d, max(int(ref_rows * (1 - null_ref)), 1), n)
        # The current quantiles at the same 101 points, interpolated the same way as the
        # reference's, so the interpolation error cancels instead of adding up in the tails.
        pos = grid * (n - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        sketch_cur = present[lo] + (present[hi] - present[lo]) * (pos - lo)
        p = (np.arange(QUANTILE_GRID) + 0.5) / QUANTILE_GRID
        q_ref = np.interp(p, grid, quantiles)
        q_cur = np.interp(p, grid, sketch_cur)
        scale = float(ref.get("std") or 0.0) or 1.0  # a constant training column: absolute distance
        stats["wasserstein"] = float(np.mean(np.abs(q_ref - q_cur)) / scale)
    return ColumnStats(
        kind="numeric",
        rows=n_all,
        null_fraction=(null_ref, null_cur),
        statistics=stats,
        labels=[*_labels_for_bins(list(edges))[: ref_bins.size], MISSING],
        reference=[float(x) for x in ref_full],
        current=[float(x) for x in cur_full],
        mean=(ref.get("mean"), mean_cur),
    )


def categorical(ref: dict[str, Any], counts: dict[str, int], missing: int, ref_rows: int) -> ColumnStats:
    """`counts`: current value -> rows (as strings, like the reference); `missing`: null rows."""
    from scipy.special import chdtrc

    n_all = sum(counts.values()) + missing
    null_ref = float(ref.get("null_fraction") or 0.0)
    freqs: dict[str, float] = ref.get("frequencies") or {}
    names = list(freqs)
    ref_probs = np.array([*(freqs[k] for k in names), float(ref.get("other_fraction") or 0.0)]) * (1 - null_ref)
    ref_probs = np.append(ref_probs, null_ref)
    unseen = {k: v for k, v in counts.items() if k not in freqs}
    cur_counts = np.array([*(counts.get(k, 0) for k in names), sum(unseen.values()), missing], dtype="float64")
    cur_probs = cur_counts / n_all
    expected = np.clip(ref_probs, EPSILON, None)
    expected = expected / expected.sum() * n_all
    chi2 = float(np.sum((cur_counts - expected) ** 2 / expected))
    # Only when the reference kept every training category is an unseen value certainly new.
    new = sorted(unseen.items(), key=lambda kv: -kv[1])[:5] if not ref.get("other_fraction") else []
    return ColumnStats(
        kind="categorical",
        rows=n_all,
        null_fraction=(null_ref, missing / n_all),
        statistics={
            "psi": psi(ref_probs, cur_probs),
            "chi_square": chi2,
            "chi_square_pvalue": float(chdtrc(max(len(cur_counts) - 1, 1), chi2)),
            "jensen_shannon": jensen_shannon(ref_probs, cur_probs),
        },
        labels=[*names, OTHER, MISSING],
        reference=[float(x) for x in ref_probs],
        current=[float(x) for x in cur_probs],
        new_values=[(k, v / n_all) for k, v in new],
    )
