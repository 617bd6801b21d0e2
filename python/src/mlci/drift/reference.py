"""The drift reference: what drift checks need to know of the training data, computed once at
training time and logged with the model (`ARTIFACT_PATH` in the run's artifacts), so that a
drift check never re-reads the training data.

Numeric columns keep quantile bin edges with the training fraction in each bin (for PSI), a
quantile sketch (for KS and Wasserstein without the raw values), and summary statistics.
Categorical columns keep value frequencies (the most frequent `max_categories`, the rest as
one `other` share). Every column keeps its null fraction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import bounded
from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

VERSION = 1
ARTIFACT_PATH = "mlci/drift_reference.json"  # inside the training run's artifacts
BINS = 10
SKETCH_POINTS = 101  # quantiles 0%, 1%, ..., 100%
MAX_CATEGORIES = 50


def _num(x: float) -> float | None:
    # JSON has no NaN; 7 significant digits keep the file small and the statistics exact enough.
    return None if x is None or math.isnan(x) else float(f"{x:.7g}")


def _numeric(values: Any, bins: int) -> dict[str, Any]:
    import numpy as np

    x = values.to_numpy(dtype="float64", na_value=np.nan)
    present = x[~np.isnan(x)]
    column: dict[str, Any] = {"kind": "numeric", "null_fraction": _num(1 - present.size / x.size if x.size else 0.0)}
    if present.size == 0:
        return column | {"bin_edges": [], "bin_fractions": [], "quantiles": []}
    # Inner edges at the training quantiles; the outer bins are open (-inf, e0] ... (eN, inf).
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
    return column | {
        "bin_edges": [_num(e) for e in edges],
        "bin_fractions": [_num(c / present.size) for c in counts],
        "quantiles": [_num(q) for q in np.quantile(present, np.linspace(0, 1, SKETCH_POINTS))],
        "mean": _num(float(present.mean())),
        "std": _num(float(present.std())),
        "min": _num(float(present.min())),
        "max": _num(float(present.max())),
    }


def _categorical(values: Any, max_categories: int) -> dict[str, Any]:
    present = values.dropna().astype(str)
    column: dict[str, Any] = {
        "kind": "categorical",
        "null_fraction": _num(1 - len(present) / len(values) if len(values) else 0.0),
    }
    if present.empty:
        return column | {"frequencies": {}, "other_fraction": 0.0}
    shares = present.value_counts(normalize=True, sort=True)
    kept = shares.iloc[:max_categories]
    return column | {
        "frequencies": {str(k): _num(float(v)) for k, v in kept.items()},
        "other_fraction": _num(float(shares.iloc[max_categories:].sum())),
    }


def compute(
    df: pd.DataFrame,
    exclude: Sequence[str] = (),
    bins: int = BINS,
    max_categories: int = MAX_CATEGORIES,
) -> dict[str, Any]:
    """The reference of a training DataFrame; `exclude` drops columns (the label, IDs)."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in df.columns:
        if name in exclude:
            continue
        values = df[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        columns[str(name)] = _numeric(values, bins) if numeric else _categorical(values, max_categories)
    return {"version": VERSION, "rows": len(df), "columns": columns}


def save(reference: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reference, separators=(",", ":")), encoding="utf-8")
    return path


def load(path: Path) -> dict[str, Any]:
    """Read a reference file; a missing, unreadable or foreign file is bad input (exit 2)."""
    try:
        text = bounded.read_text(path, str(path), bounded.MAX_JSON_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: drift reference not found (it is logged by `mlci train`)") from None
    except OSError as err:
        raise InputError(f"{path}: unreadable drift reference: {err.strerror or err}") from None
    data = bounded.json_loads(text, str(path), " in the drift reference")
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("columns"), dict):
        raise InputError(f"{path}: not an mlci drift reference of version {VERSION}")
    return data
