"""Checks on the synthetic churn data generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import make_data
import pandas as pd
import pytest

EXAMPLE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return make_data.make_dataset(5000, seed=42)


def test_same_seed_gives_same_data() -> None:
    pd.testing.assert_frame_equal(make_data.make_dataset(500, 7), make_data.make_dataset(500, 7))


def test_different_seeds_give_different_data() -> None:
    assert not make_data.make_dataset(500, 7).equals(make_data.make_dataset(500, 8))


def test_columns_and_dtypes(df: pd.DataFrame) -> None:
    assert list(df.columns) == make_data.COLUMNS
    assert len(df) == 5000
    assert df["customer_id"].is_unique
    for col in [
        "customer_id",
        "contract",
        "payment_method",
        "internet_service",
        "region",
    ]:
        assert pd.api.types.is_string_dtype(df[col]), col
    for col in ["tenure_months", "support_calls", "senior", "churned"]:
        assert pd.api.types.is_integer_dtype(df[col]), col
    for col in ["monthly_charges", "total_charges"]:
        assert pd.api.types.is_float_dtype(df[col]), col


def test_value_ranges_and_categories(df: pd.DataFrame) -> None:
    assert set(df["contract"]) == set(make_data.CONTRACTS)
    assert set(df["payment_method"]) == set(make_data.PAYMENT_METHODS)
    assert set(df["internet_service"]) == set(make_data.INTERNET_SERVICES)
    assert "none" in set(df["internet_service"])
    assert set(df["region"]) == set(make_data.REGIONS)
    assert set(df["senior"]) == {0, 1}
    assert set(df["churned"]) == {0, 1}
    assert df["tenure_months"].between(1, 72).all()
    assert (df["monthly_charges"] > 0).all()
    assert (df["support_calls"] >= 0).all()


def test_only_total_charges_has_nulls(df: pd.DataFrame) -> None:
    nulls = df.isna().mean()
    assert 0.01 <= nulls["total_charges"] <= 0.03
    assert nulls.drop("total_charges").sum() == 0


def test_label_balance(df: pd.DataFrame) -> None:
    assert 0.2 <= df["churned"].mean() <= 0.45


def test_split_is_80_20_and_disjoint(df: pd.DataFrame) -> None:
    train, holdout = make_data.split(df, seed=42)
    assert (len(train), len(holdout)) == (4000, 1000)
    assert set(train["customer_id"]).isdisjoint(holdout["customer_id"])


def test_cli_writes_both_files_deterministically(tmp_path: Path) -> None:
    args = ["--rows", "500", "--seed", "3", "--out"]
    # Once as a script, once in-process: the bytes must match.
    subprocess.run(
        [sys.executable, "make_data.py", *args, str(tmp_path / "a")],
        cwd=EXAMPLE_DIR,
        check=True,
        capture_output=True,
    )
    assert make_data.main([*args, str(tmp_path / "b")]) == 0
    for file in ("train.csv", "holdout.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    train = pd.read_csv(tmp_path / "a" / "train.csv")
    holdout = pd.read_csv(tmp_path / "a" / "holdout.csv")
    assert (len(train), len(holdout)) == (400, 100)
    assert list(train.columns) == make_data.COLUMNS
