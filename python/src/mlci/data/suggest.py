"""`mlci data suggest DATAFILE --out suite.json`: a starting Great Expectations suite from a
reference dataset, for the user to edit. Written as GX 1.x suite JSON without importing GX.

What it expects: the same set of columns; a row count within 10x either way; per column the
share of missing values (none when the reference has none, else at most twice the reference
share); numeric columns numeric and within the reference range widened by `margin` of it;
columns with few distinct values (`max_categories`) within the reference's value set.
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


def _column(name: str, values: pd.Series, margin: float, max_categories: int) -> list[dict[str, Any]]:
    import pandas as pd

    out: list[dict[str, Any]] = []
    nulls = float(values.isna().mean())
    if nulls == 0:
        out.append(_expect("expect_column_values_to_not_be_null", column=name))
    elif nulls < 0.5:
        out.append(_expect("expect_column_values_to_not_be_null", column=name, mostly=round(1 - 2 * nulls, 4)))
    present = values.dropna()
    if present.empty:
        return out
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        infinite = ~present.astype("float64").map(math.isfinite)
        if infinite.any():
            row = int(infinite.to_numpy().argmax())
            raise InputError(
                f"column {name!r} holds {present[infinite].iloc[0]} (data row {int(present.index[row]) + 1}); "
                "no range can be suggested: drop or fix such rows first"
            )
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


def suggest(
    frame: pd.DataFrame, name: str, source: str, margin: float = 0.1, max_categories: int = 20
) -> dict[str, Any]:
    rows = len(frame)
    expectations = [
        _expect("expect_table_columns_to_match_set", column_set=[str(c) for c in frame.columns], exact_match=True),
        _expect(
            "expect_table_row_count_to_be_between", min_value=max(1, rows // ROW_FACTOR), max_value=rows * ROW_FACTOR
        ),
    ]
    for column in frame.columns:
        try:
            expectations += _column(str(column), frame[column], margin, max_categories)
        except InputError as err:
            raise InputError(f"{source}: {err}") from None
    return {
        "name": name,
        "expectations": expectations,
        "meta": {"generated_by": f"mlci data suggest {source}", "note": "a starting point: review and edit"},
    }


def main(datafile: str, out: str, name: str | None, margin: float, max_categories: int) -> int:
    from mlci import log
    from mlci.data import files

    frame = files.read(Path(datafile))
    suite = suggest(frame, name or Path(out).stem, datafile, margin, max_categories)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    log.info(f"wrote {len(suite['expectations'])} expectations for {len(frame.columns)} columns to {target}")
    return 0
