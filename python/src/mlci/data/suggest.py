"""`mlci data suggest DATAFILE --out suite.json`: a starting Great Expectations suite from a
reference dataset, for the user to edit. Written as GX 1.x suite JSON without importing GX.

Given several files (the training data and the holdout that data-validate also checks), the
suite holds on every one of them. What it expects: the same set of columns; a row count within
10x either way; per column the share of missing values (none when the reference has none, else
at most twice the reference share); numeric columns numeric and within the reference range
widened by `margin` of it; columns with few distinct values (`max_categories`) within the
reference's value set.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

NUMERIC_TYPES = ["int", "int8", "int16", "int32", "int64", "float", "float32", "float64", "Int64", "Float64"]
ROW_FACTOR = 10


def _expect(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def _number(x: float, integer: bool, down: bool) -> float | int:
    if integer:
        return int(math.floor(x) if down else math.ceil(x))
    return float(f"{x:.6g}")


def _column(name: str, values: pd.Series, nulls: float, margin: float, max_categories: int) -> list[dict[str, Any]]:
    """Expectations of one column; `values` holds it from every file, `nulls` is the largest
    share of missing values in any one file."""
    import pandas as pd

    out: list[dict[str, Any]] = []
    if nulls == 0:
        out.append(_expect("expect_column_values_to_not_be_null", column=name))
    elif nulls < 0.5:
        out.append(_expect("expect_column_values_to_not_be_null", column=name, mostly=round(1 - 2 * nulls, 4)))
    present = values.dropna()
    if present.empty:
        return out
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        lo, hi = float(present.min()), float(present.max())
        pad = (hi - lo) * margin or abs(lo) * margin or 1.0
        integer = pd.api.types.is_integer_dtype(values) or bool((present == present.round()).all())
        out.append(_expect("expect_column_values_to_be_in_type_list", column=name, type_list=NUMERIC_TYPES))
        out.append(
            _expect(
                "expect_column_values_to_be_between",
                column=name,
                # A column that is never negative in the reference (counts, prices) stays so.
                min_value=_number(lo - pad if lo < 0 or lo - pad >= 0 else 0, integer, down=True),
                max_value=_number(hi + pad, integer, down=False),
            )
        )
    distinct = present.unique()
    if len(distinct) <= max_categories and not (numeric and len(distinct) > 2):
        value_set = sorted((v.item() if hasattr(v, "item") else v for v in distinct), key=str)
        out.append(_expect("expect_column_values_to_be_in_set", column=name, value_set=value_set))
    return out


def _finite(source: str, name: str, values: pd.Series) -> None:
    """An infinite value makes every suggested range infinite: refuse it, naming the row."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_float_dtype(values):
        return
    infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
    if infinite.any():
        row = int(infinite.argmax())
        raise InputError(
            f"{source}: column {name!r} holds {values.iloc[row]} (data row {row + 1}); "
            "no range can be suggested: drop or fix such rows first"
        )


def suggest(
    frame: pd.DataFrame, name: str, source: str, margin: float = 0.1, max_categories: int = 20
) -> dict[str, Any]:
    return suggest_many([(source, frame)], name, margin, max_categories)


def suggest_many(
    frames: list[tuple[str, pd.DataFrame]], name: str, margin: float = 0.1, max_categories: int = 20
) -> dict[str, Any]:
    """A suite that holds on every one of `frames` (source, data): ranges and value sets over all
    of them, row counts and missing-value shares allowed for the smallest and the worst file.
    Columns that some file lacks get no expectations of their own."""
    import pandas as pd

    columns = [str(c) for c in frames[0][1].columns]
    common = [c for c in columns if all(c in frame.columns for _, frame in frames)]
    same = all(sorted(map(str, frame.columns)) == sorted(columns) for _, frame in frames)
    rows = [len(frame) for _, frame in frames]
    expectations = [
        _expect("expect_table_columns_to_match_set", column_set=common, exact_match=same),
        _expect(
            "expect_table_row_count_to_be_between",
            min_value=max(1, min(rows) // ROW_FACTOR),
            max_value=max(rows) * ROW_FACTOR,
        ),
    ]
    for column in common:
        for source, frame in frames:
            _finite(source, column, frame[column])
        values = pd.concat([frame[column] for _, frame in frames], ignore_index=True)
        nulls = max(float(frame[column].isna().mean()) for _, frame in frames)
        expectations += _column(column, values, nulls, margin, max_categories)
    sources = " ".join(source for source, _ in frames)
    return {
        "name": name,
        "expectations": expectations,
        "meta": {"generated_by": f"mlci data suggest {sources}", "note": "a starting point: review and edit"},
    }


def main(datafiles: list[str], out: str, name: str | None, margin: float, max_categories: int) -> int:
    from mlci import log
    from mlci.data import files

    frames = [(datafile, files.read(Path(datafile))) for datafile in datafiles]
    suite = suggest_many(frames, name or Path(out).stem, margin, max_categories)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    columns = len(suite["expectations"][0]["kwargs"]["column_set"])
    log.info(f"wrote {len(suite['expectations'])} expectations for {columns} columns to {target}")
    if not suite["expectations"][0]["kwargs"]["exact_match"]:
        log.warn("the files have different columns: only the columns common to all of them are expected")
    return 0
