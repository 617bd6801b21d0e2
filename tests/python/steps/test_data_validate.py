"""`mlci data-validate` with real Great Expectations runs, and `mlci data suggest`."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import write
from mlci import protocol
from mlci.data import suggest

Mlci = Callable[..., subprocess.CompletedProcess[str]]


def data(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 8_000, n).round(2),
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )


@pytest.fixture
def repo(project: Path) -> Path:
    """The project with two data files, a suite suggested from the first, and data config."""
    (project / "data").mkdir()
    data(0, 2000).to_csv(project / "data" / "train.csv", index=False)
    data(1, 500).to_parquet(project / "data" / "holdout.parquet")
    suite = suggest.suggest(data(0, 2000), "demo", "data/train.csv")
    write(project / "suite.json", json.dumps(suite))
    with (project / ".mlci.yml").open("a") as f:
        f.write("data:\n  train: data/train.csv\n  holdout: data/holdout.parquet\n  suite: suite.json\n")
    return project


def run(params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    return protocol.execute("data-validate", params or {})


def test_suggested_suite_passes_on_csv_and_parquet(repo: Path) -> None:
    code, result = run()
    assert (code, result["status"]) == (0, "passed"), result["summary"]
    suite = json.loads((repo / "suite.json").read_text())
    n = len(suite["expectations"])
    assert result["summary"] == f"{2 * n} expectations passed on data/train.csv, data/holdout.parquet"
    assert result["outputs"]["expectations"] == 2 * n and result["outputs"]["failed"] == 0
    cases = ET.parse(repo / "reports" / "data-validate" / "junit.xml").getroot().iter("testcase")  # noqa: S314 - ours
    assert len(list(cases)) == 2 * n
    assert result["reports"] == [
        "reports/data-validate/junit.xml",
        "reports/data-validate/report.html",
        "reports/data-validate/mlci-report.css",
    ]
    assert not (repo / "reports" / "data-validate" / "data-docs").exists()  # only when asked
    kinds = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    } <= kinds


def test_failures_are_named_with_observed_values_and_sample_rows(repo: Path) -> None:
    bad = data(2, 300)
    bad.loc[5, "age"] = 400
    bad.loc[[7, 8], "plan"] = "enterprise"
    bad.loc[9, "income"] = None
    bad.to_csv(repo / "data" / "bad.csv", index=False)
    code, result = run({"files": ["data/bad.csv"]})
    assert (code, result["status"]) == (1, "failed")
    assert result["outputs"]["failed"] == 3
    summary = result["summary"]
    assert summary.startswith(f"3 of {result['outputs']['expectations']} expectations failed: ")
    assert (
        "data/bad.csv: expect_column_values_to_be_between(column=age, min_value=10, max_value=97): 1 unexpected of 300"
        in summary
    )
    assert (
        "data/bad.csv: expect_column_values_to_be_in_set(column=plan, "
        'value_set=["basic", "pro", "team"]): 2 unexpected of 300' in summary
    )
    assert "data/bad.csv: expect_column_values_to_not_be_null(column=income): 1 unexpected of 300" in summary
    junit = ET.parse(repo / "reports" / "data-validate" / "junit.xml").getroot()  # noqa: S314 - our own report
    assert junit.get("failures") == "3"
    page = (repo / "reports" / "data-validate" / "report.html").read_text()
    assert "<td>enterprise</td><td>2</td>" in page  # the unexpected value and its row count
    assert "<td>5</td><td>400</td>" in page  # the sample row: index, then the bad age


def test_data_docs_when_asked(repo: Path) -> None:
    code, result = run({"dataDocs": True})
    assert code == 0
    index = repo / "reports" / "data-validate" / "data-docs" / "index.html"
    assert index.is_file() and "reports/data-validate/data-docs/index.html" in result["reports"]


@pytest.mark.parametrize(
    ("suite_text", "message"),
    [
        (
            '{"name": "s", "expectations": [\n  {"type": ',
            "suite.json:2 invalid JSON in the expectation suite: Expecting value",
        ),
        ('["not a suite"]', "suite.json: not an expectation suite: expected an object with an `expectations` list"),
        ('{"name": "s", "expectations": []}', "suite.json: the expectation suite has no expectations"),
        (
            '{"name": "s", "expectations": [{"type": "expect_column_values_to_be_nice", "kwargs": {"column": "age"}}]}',
            "suite.json expectations[0] (expect_column_values_to_be_nice): invalid expectation: "
            "Great Expectations 1.24.1 has no expectation of this type",
        ),
        (
            '{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", '
            '"kwargs": {"col": "age"}}]}',
            "suite.json expectations[0] (expect_column_values_to_not_be_null): invalid expectation: ",
        ),
    ],
)
def test_invalid_suite_is_bad_input(repo: Path, suite_text: str, message: str) -> None:
    (repo / "suite.json").write_text(suite_text)
    code, result = run()
    assert code == 2
    assert result["summary"].startswith(message)


def test_expectation_on_a_missing_column_names_file_and_column(repo: Path) -> None:
    suite = {
        "name": "s",
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "zip"}}],
    }
    (repo / "suite.json").write_text(json.dumps(suite))
    code, result = run()
    assert code == 2
    assert result["summary"] == (
        "data/train.csv: column 'zip' expect_column_values_to_not_be_null(column=zip) (in suite.json) cannot run: "
        'Error: The column "zip" in BatchData does not exist.'
    )


def test_text_in_a_numeric_column_names_file_and_column(repo: Path) -> None:
    bad = data(2, 50).astype({"age": str})
    bad.loc[3, "age"] = "forty"
    bad.to_csv(repo / "data" / "bad.csv", index=False)
    code, result = run({"files": ["data/bad.csv"]})
    assert code == 2
    assert result["summary"].startswith("data/bad.csv: column 'age' expect_column_values_to_be_between(column=age")
    assert result["summary"].endswith(
        "cannot run: Column values, min_value, and max_value must either be None or of the same type."
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"files": ["data/nope.csv"]}, "data/nope.csv: data file not found"),
        (
            {"suite": "nope.json"},
            "data.suite: nope.json not found (`mlci data suggest DATAFILE --out nope.json` writes one)",
        ),
    ],
)
def test_missing_files_are_bad_input(repo: Path, params: dict[str, Any], message: str) -> None:
    code, result = run(params)
    assert (code, result["summary"]) == (2, message)


def test_no_suite_configured(project: Path) -> None:
    code, result = run()
    assert code == 2
    assert result["summary"].startswith("data.suite: not set; `mlci data suggest DATAFILE")


def test_cli_spellings(repo: Path, mlci: Mlci) -> None:
    proc = mlci("data", "suggest", "data/holdout.parquet", "--out", "expectations/holdout.json")
    assert proc.returncode == 0, proc.stderr
    assert "expectations for 3 columns to expectations/holdout.json" in proc.stderr
    assert json.loads((repo / "expectations" / "holdout.json").read_text())["name"] == "holdout"
    proc = mlci("data", "suggest", "data/missing.csv", "--out", "x.json")
    assert proc.returncode == 2 and "data/missing.csv: data file not found" in proc.stderr
    proc = mlci("data", "validate", "--result", "out/result.json")
    result = json.loads((repo / "out" / "result.json").read_text())
    assert (proc.returncode, result["command"], result["status"]) == (0, "data-validate", "passed"), proc.stderr


def test_suite_suggested_from_several_files_passes_on_every_one(repo: Path, mlci: Mlci) -> None:
    holdout = data(5, 120)
    holdout.loc[3, "age"] = 95  # above every training value
    holdout.loc[4, "income"] = None  # the training data has no missing income
    holdout.loc[[5, 6], "plan"] = "enterprise"  # a plan only the holdout has
    holdout.to_csv(repo / "data" / "holdout.csv", index=False)
    files = ["data/train.csv", "data/holdout.csv"]
    one = mlci("data", "suggest", "data/train.csv", "--out", "one.json")
    assert one.returncode == 0, one.stderr
    assert run({"suite": "one.json", "files": files})[0] == 1  # one file's bounds fail the other
    proc = mlci("data", "suggest", *files, "--out", "both.json")
    assert proc.returncode == 0, proc.stderr
    code, result = run({"suite": "both.json", "files": files})
    assert (code, result["outputs"]["failed"]) == (0, 0), result["summary"]
    suite = json.loads((repo / "both.json").read_text())
    assert suite["meta"]["generated_by"] == "mlci data suggest data/train.csv data/holdout.csv"
    rows = next(e for e in suite["expectations"] if e["type"] == "expect_table_row_count_to_be_between")
    assert rows["kwargs"] == {"min_value": 12, "max_value": 20_000}


def test_files_with_different_columns_get_the_common_ones(tmp_path: Path) -> None:
    a, b = data(0, 100), data(1, 100).drop(columns=["plan"]).assign(extra=1)
    suite = suggest.suggest_many([("a.csv", a), ("b.csv", b)], "s")
    first = suite["expectations"][0]
    assert first["kwargs"] == {"column_set": ["age", "income"], "exact_match": False}
    assert not {"plan", "extra"} & {e["kwargs"].get("column") for e in suite["expectations"]}
