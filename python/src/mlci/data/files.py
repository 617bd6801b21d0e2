"""Read the data files a step is given into one DataFrame, with errors that name the file.

A path is a CSV, Parquet or JSON-lines file, or a folder of them (the request batches the
model server captures), read in name order and stacked. Every problem is bad input (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".csv", ".parquet", ".jsonl")
SEED = 0
ROWS_ATTR = "mlci_rows"  # rows in the file before sampling


def sample_indices(rows: int, max_rows: int) -> Any:
    """Sorted row positions of a seeded sample: the same rows for the same data, run after run."""
    import numpy as np

    return np.sort(np.random.default_rng(SEED).choice(rows, size=max_rows, replace=False))


def _table(path: Path, suffix: str, columns: list[str] | None, max_rows: int | None) -> tuple[Any, int]:
    """The file as an Arrow table, sampled to `max_rows` rows, and its row count."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if suffix == ".csv":
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty data file (no header, no rows)")
        # Arrow's parser is multi-threaded and refuses a row with more fields than the header
        # (pandas' C parser would silently turn the first column into the index).
        table = pa_csv.read_csv(path)
        rows = table.num_rows
        return (table.take(sample_indices(rows, max_rows)) if max_rows and rows > max_rows else table), rows
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    wanted = None if columns is None else [c for c in names if c in columns]
    rows = parquet.metadata.num_rows
    if not max_rows or rows <= max_rows:
        return parquet.read(columns=wanted), rows
    # One row group at a time, keeping only the sampled rows: memory stays at one row group.
    keep = sample_indices(rows, max_rows)
    parts, start = [], 0
    for group in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        lo, hi = keep.searchsorted(start), keep.searchsorted(start + size)
        if hi > lo:
            parts.append(parquet.read_row_group(group, columns=wanted).take(keep[lo:hi] - start))
        start += size
    return pa.concat_tables(parts), rows


def _check_columns(path: Path, names: list[str]) -> None:
    """Two columns of one name: every step would read one and silently ignore the other."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"{path}: repeated column name {', '.join(repr(n) for n in repeated)}; column names must be unique"
        )


def _check_text(path: Path, table: Any) -> None:
    """Arrow reads a CSV column that is not UTF-8 as bytes: name the column and the row."""
    import pyarrow as pa

    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_binary(column.type):
            continue
        for row, value in enumerate(column.to_pylist()):
            try:
                if value is not None:
                    value.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(
                    f"{path}: column {name!r} is not UTF-8 text (data row {row + 1}); save the file as UTF-8"
                ) from None


def _read_one(path: Path, columns: list[str] | None, max_rows: int | None = None) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: unsupported data file type {suffix or '(none)'}; use .csv, .parquet or .jsonl")
    try:
        if suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
            rows = len(frame)
        else:
            # Sampled before the conversion to pandas: 1M x 100 columns never exists twice.
            table, rows = _table(path, suffix, columns, max_rows)
            _check_columns(path, [str(n) for n in table.column_names])
            _check_text(path, table)
            frame = table.to_pandas()
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: data file not found") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty data file (no header, no rows)") from None
    except (UnicodeDecodeError, ValueError, OSError) as err:  # Arrow's errors subclass these
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: unreadable {suffix[1:].upper()} file: {first}") from None
    frame.columns = [str(c) for c in frame.columns]
    _check_columns(path, list(frame.columns))
    frame.attrs[ROWS_ATTR] = rows
    return frame


def read(path: Path, columns: list[str] | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """The data at `path` (file or folder); `columns` only limits what Parquet reads; a single
    CSV or Parquet file above `max_rows` rows is sampled while it is read (`frame.attrs[ROWS_ATTR]`
    keeps its row count)."""
    import pandas as pd

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(f"{path}: no {', '.join('*' + s for s in SUFFIXES)} files in this folder")
        frames = [_read_one(p, columns) for p in files]
        frames = [f for f in frames if len(f)]
        if not frames:
            raise InputError(f"{path}: empty dataset: the {len(files)} files in this folder hold no rows")
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        frame.attrs[ROWS_ATTR] = len(frame)
    elif not path.exists():
        raise InputError(f"{path}: data file not found")
    else:
        frame = _read_one(path, columns, max_rows)
    if len(frame) == 0:
        raise InputError(f"{path}: empty dataset: no rows")
    return frame
