"""Reading data files and folders of request batches, and every way they can be bad."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlci.data import files
from mlci.errors import InputError

FRAME = pd.DataFrame({"x": [1.5, 2.5, None], "city": ["a", "b", "c"], "n": [1, 2, 3]})


def test_csv_parquet_and_jsonl_read_the_same(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "d.csv", index=False)
    FRAME.to_parquet(tmp_path / "d.parquet")
    FRAME.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    for name in ["d.csv", "d.parquet", "d.jsonl"]:
        got = files.read(tmp_path / name)
        assert list(got.columns) == ["x", "city", "n"], name
        assert got["x"].isna().tolist() == [False, False, True], name
        assert got["city"].tolist() == ["a", "b", "c"], name


def test_parquet_reads_only_the_wanted_columns(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "d.parquet")
    assert list(files.read(tmp_path / "d.parquet", columns=["n", "nope"]).columns) == ["n"]


def test_folder_of_batches_is_stacked_in_name_order(tmp_path: Path) -> None:
    FRAME.iloc[:1].to_json(tmp_path / "b-1.jsonl", orient="records", lines=True)
    FRAME.iloc[1:2].to_csv(tmp_path / "b-2.csv", index=False)
    FRAME.iloc[2:].to_parquet(tmp_path / "b-3.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    got = files.read(tmp_path)
    assert got["city"].tolist() == ["a", "b", "c"] and len(got) == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "{path}: data file not found"),
        ("empty.csv", "", "{path}: empty data file (no header, no rows)"),
        ("header.csv", "x,city\n", "{path}: empty dataset: no rows"),
        (
            "ragged.csv",
            "x,city\n1,a\n2,b,extra\n",
            "{path}: unreadable CSV file: CSV parse error: Expected 2 columns, got 3: 2,b,extra",
        ),
        ("bad.parquet", "not parquet", "{path}: unreadable PARQUET file: "),
        ("data.xlsx", "x", "{path}: unsupported data file type .xlsx; use .csv, .parquet or .jsonl"),
    ],
)
def test_bad_files_are_bad_input_naming_the_file(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        files.read(path)
    assert str(err.value).startswith(message.format(path=path))


def test_empty_folder_and_folder_without_rows(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \*\.csv, \*\.parquet, \*\.jsonl files in this folder"):
        files.read(tmp_path)
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "b.csv").write_text("x\n")
    with pytest.raises(InputError) as err:
        files.read(tmp_path)
    assert str(err.value) == f"{tmp_path}: empty dataset: the 2 files in this folder hold no rows"


def test_large_files_are_sampled_while_read(tmp_path: Path) -> None:
    big = pd.DataFrame({"i": range(1000)})
    big.to_parquet(tmp_path / "big.parquet", row_group_size=300)  # sampled row group by row group
    big.to_csv(tmp_path / "big.csv", index=False)
    for name in ["big.parquet", "big.csv"]:
        got = files.read(tmp_path / name, max_rows=100)
        assert (len(got), got.attrs[files.ROWS_ATTR]) == (100, 1000)
        assert got["i"].tolist() == files.sample_indices(1000, 100).tolist()  # seeded, in file order
