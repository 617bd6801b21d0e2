"""The MLflow scoring protocol's request bodies, parsed and checked against the signature.

JSON bodies carry one of `dataframe_split`, `dataframe_records`, `instances` or `inputs`
(optionally `params`); CSV bodies are a header row and data rows. Every problem is a
`BadRequest` whose message says what was wrong and what was expected.
"""

from __future__ import annotations

import collections
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlci.serving.model import Column

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
INTEGER_TYPES = ("long", "integer")
FLOAT_TYPES = ("double", "float")
# What the signature's types hold: a value outside is the client's error, never a silent wrap.
INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
FLOAT_LIMITS = {"float": 3.4028234663852886e38, "double": 1.7976931348623157e308}


class BadRequest(Exception):
    """A request the model cannot take; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Parsed:
    frame: Any  # pandas.DataFrame
    params: dict[str, Any] | None


def parse(body: bytes, content_type: str, columns: Sequence[Column]) -> Parsed:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return Parsed(_csv(body), None)
    if media != "application/json":
        raise BadRequest(
            f"unsupported content type {content_type or '(none)'!r}; send application/json or text/csv",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
    try:
        doc = json.loads(body)
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as err:  # ValueError: also an integer of over 4300 digits
        raise BadRequest(f"malformed JSON: {err}") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"expected a JSON object with one of {', '.join(INPUT_KEYS)}")
    keys = [k for k in INPUT_KEYS if k in doc]
    unknown = sorted(set(doc) - set(INPUT_KEYS) - {"params"})
    if len(keys) != 1 or unknown:
        found = ", ".join(sorted(doc)) or "none"
        raise BadRequest(f"expected exactly one of {', '.join(INPUT_KEYS)} (and optionally params); got keys: {found}")
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("params: expected a JSON object")
    key = keys[0]
    frame = _frame(key, doc[key], columns)
    return Parsed(frame, params)


def _frame(key: str, value: Any, columns: Sequence[Column]) -> Any:
    import pandas as pd

    try:
        if key == "dataframe_split":
            if not isinstance(value, dict) or not isinstance(value.get("data"), list):
                raise BadRequest('dataframe_split: expected {"columns": [...], "data": [[...], ...]}')
            _check_split(value)
            return pd.DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
        if key == "dataframe_records":
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise BadRequest("dataframe_records: expected a list of objects, one per row")
            return pd.DataFrame.from_records(value)
        # instances / inputs: rows as objects, columns as a mapping of lists, or positional rows.
        if isinstance(value, dict):
            return pd.DataFrame(value)
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            return pd.DataFrame.from_records(value)
        if isinstance(value, list) and columns and all(isinstance(r, list) for r in value):
            return pd.DataFrame(value, columns=[c.name for c in columns])
        if isinstance(value, list):
            return pd.DataFrame(value)
        raise BadRequest(f"{key}: expected a list of rows or a mapping of column lists")
    except BadRequest:
        raise
    except (ValueError, TypeError) as err:
        raise BadRequest(f"{key}: cannot make a table of it: {err}") from None


def _check_split(value: dict[str, Any]) -> None:
    """Shapes pandas would broadcast instead of refusing: one prediction per row sent, no more."""
    data, columns, index = value["data"], value.get("columns"), value.get("index")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise BadRequest("dataframe_split.columns: expected a list of column names")
    if index is None:
        return
    if not isinstance(index, list) or not all(_is_label(i) for i in index):
        raise BadRequest("dataframe_split.index: expected a list of row labels (numbers or strings)")
    if len(index) != len(data):
        raise BadRequest(f"dataframe_split: index has {len(index)} labels but data has {len(data)} rows")


def _is_label(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _csv(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise BadRequest(f"malformed CSV: {str(err).strip()}") from None


def _bad_value(series: Any, ok: Any) -> Any:
    bad = series[~ok]
    return bad.index[0], bad.iloc[0]


def conform(frame: Any, columns: Sequence[Column]) -> Any:
    """The frame with the signature's columns, in its order and types; extra columns dropped.

    Raises `BadRequest` naming missing columns, or the first value of a column that does not
    fit its type (with its row)."""
    import numpy as np
    import pandas as pd

    if not columns:
        return frame
    if len(frame) == 0:
        raise BadRequest("no rows to predict")
    counts = collections.Counter(map(str, frame.columns))
    present = set(counts)
    twice = sorted(c.name for c in columns if counts[c.name] > 1)
    if twice:
        raise BadRequest(f"column{'s' if len(twice) > 1 else ''} given more than once: {', '.join(twice)}")
    missing = [c.name for c in columns if c.required and c.name not in present]
    if missing:
        expected = ", ".join(f"{c.name} ({c.type})" for c in columns)
        raise BadRequest(
            f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}; the model expects: {expected}"
        )
    out: dict[str, Any] = {}
    for col in columns:
        if col.name not in present:
            out[col.name] = pd.Series(
                [np.nan] * len(frame), index=frame.index, dtype="float64" if col.type in FLOAT_TYPES else object
            )
            continue
        out[col.name] = _typed(frame[col.name], col)
    return pd.DataFrame(out, index=frame.index)


def _typed(series: Any, col: Column) -> Any:
    import numpy as np
    import pandas as pd

    kind = series.dtype.kind
    if col.type in INTEGER_TYPES:
        low, high = INTEGER_RANGES[col.type]
        dtype = "int32" if col.type == "integer" else "int64"
        if kind in "iu":
            ok = (series >= low) & (series <= high)
        elif kind == "f":
            # Compare as floats: 2**63 itself rounds into range, so the upper bound is exclusive.
            ok = series.notna() & (series == np.floor(series)) & (series >= float(low)) & (series < float(high) + 1)
        else:  # objects: Python ints beyond 64 bits land here, as do strings and nested values
            ok = series.map(lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high)
        if bool(ok.all()):
            return series.astype(dtype)
        row, value = _bad_value(series, ok)
        if _is_number(value) and not math.isnan(value) and (math.isinf(value) or value == math.floor(value)):
            raise BadRequest(
                f"column {col.name}: {_show(value)} at row {row} is out of range for {col.type} ({low} to {high})"
            )
        raise BadRequest(f"column {col.name}: expected an integer ({col.type}), got {_show(value)} at row {row}")
    if col.type in FLOAT_TYPES:
        limit = FLOAT_LIMITS[col.type]
        if kind in "iuf":
            ok = series.isna() | ~np.isfinite(series) | (series.abs() <= limit)
        else:
            ok = series.map(lambda v: v is None or (_is_number(v) and _fits(v, limit)))
        if bool(ok.all()):
            return pd.to_numeric(series).astype("float32" if col.type == "float" else "float64")
        row, value = _bad_value(series, ok)
        if _is_number(value):
            raise BadRequest(f"column {col.name}: {_show(value)} at row {row} is out of range for {col.type}")
        raise BadRequest(f"column {col.name}: expected a number ({col.type}), got {_show(value)} at row {row}")
    if col.type == "string":
        if str(series.dtype) in ("str", "string"):
            return series
        if kind in "OSU":
            ok = series.map(lambda v: isinstance(v, str) or v is None or (isinstance(v, float) and math.isnan(v)))
            if bool(ok.all()):
                return series
        else:
            ok = pd.Series(False, index=series.index)
        row, value = _bad_value(series, ok)
        raise BadRequest(f"column {col.name}: expected a string, got {_show(value)} at row {row}")
    if col.type == "boolean":
        if kind == "b":
            return series
        ok = series.map(lambda v: isinstance(v, bool))
        row, value = _bad_value(series, ok) if not bool(ok.all()) else (series.index[0], series.iloc[0])
        raise BadRequest(f"column {col.name}: expected true or false, got {_show(value)} at row {row}")
    return series  # datetime, binary: the model's own enforcement applies


def _is_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _fits(value: Any, limit: float) -> bool:
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond any float
        return False
    return not math.isfinite(number) or abs(number) <= limit


def _show(value: Any) -> str:
    if hasattr(value, "item"):  # a numpy scalar: show it as the JSON the client sent
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "null"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def predictions(result: Any) -> list[Any]:
    """The model's output as a JSON-ready list, one item per input row (MLflow's format)."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return [_native(row) for row in result.to_dict(orient="records")]
    if isinstance(result, pd.Series | np.ndarray):
        return list(result.tolist())
    if isinstance(result, list | tuple):
        return [_native(item) for item in result]
    return [_native(result)]


def _native(value: Any) -> Any:
    """numpy scalars and arrays inside a model's list or records as JSON's types."""
    import numpy as np

    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_native(v) for v in value]
    return value
