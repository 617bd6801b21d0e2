"""Generate a seeded, synthetic customer-churn dataset.

The label ``churned`` is drawn from a logistic model of the features plus
Gaussian noise, so a good classifier scores roughly 0.80-0.90 accuracy and
never 1.0. The same ``--seed`` always gives byte-identical CSV files.

    python make_data.py --rows 5000 --seed 42 --out data/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["electronic_check", "mailed_check", "bank_transfer", "credit_card"]
INTERNET_SERVICES = ["dsl", "fiber_optic", "none"]
REGIONS = ["north", "south", "east", "west"]

COLUMNS = [
    "customer_id",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract",
    "payment_method",
    "internet_service",
    "support_calls",
    "senior",
    "region",
    "churned",
]
LABEL = "churned"
NULL_FRACTION = 0.02  # share of rows whose total_charges is missing
HOLDOUT_FRACTION = 0.2


def _pick(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> np.ndarray:
    """Draw ``n`` indices into ``values`` with probabilities ``p``."""
    return rng.choice(len(values), size=n, p=p)


def make_dataset(rows: int, seed: int) -> pd.DataFrame:
    """Return ``rows`` synthetic customers; the same seed gives the same frame."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)

    contract = _pick(rng, CONTRACTS, [0.55, 0.25, 0.20], rows)
    internet = _pick(rng, INTERNET_SERVICES, [0.35, 0.45, 0.20], rows)
    payment = _pick(rng, PAYMENT_METHODS, [0.35, 0.20, 0.22, 0.23], rows)
    region = _pick(rng, REGIONS, [0.30, 0.25, 0.25, 0.20], rows)
    senior = (rng.random(rows) < 0.16).astype(np.int64)

    # Longer contracts go with longer tenure.
    tenure_scale = np.array([14.0, 30.0, 45.0])[contract]
    tenure = np.clip(np.ceil(rng.exponential(tenure_scale)), 1, 72).astype(np.int64)

    # Charges depend on the internet service.
    base = np.array([55.0, 85.0, 20.0])[internet]
    spread = np.array([10.0, 12.0, 4.0])[internet]
    monthly = np.round(np.clip(rng.normal(base, spread), 18.0, 120.0), 2)
    total = np.round(tenure * monthly * rng.normal(1.0, 0.03, rows), 2)
    missing = rng.choice(rows, size=round(NULL_FRACTION * rows), replace=False)
    total[missing] = np.nan

    is_fiber = internet == INTERNET_SERVICES.index("fiber_optic")
    support_calls = rng.poisson(1.0 + 0.6 * is_fiber).astype(np.int64)

    logit = (
        -1.9
        + np.array([1.8, -0.6, -2.6])[contract]
        - 0.08 * tenure
        + 0.03 * (monthly - 65.0)
        + 0.6 * support_calls
        + 0.6 * senior
        + 0.8 * (payment == PAYMENT_METHODS.index("electronic_check"))
        + 0.6 * is_fiber
        - 0.8 * (internet == INTERNET_SERVICES.index("none"))
        + np.array([0.0, 0.25, 0.0, -0.15])[region]
        + rng.normal(0.0, 0.3, rows)
    )
    churned = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in rng.permutation(rows) + 1],
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract": np.array(CONTRACTS)[contract],
            "payment_method": np.array(PAYMENT_METHODS)[payment],
            "internet_service": np.array(INTERNET_SERVICES)[internet],
            "support_calls": support_calls,
            "senior": senior,
            "region": np.array(REGIONS)[region],
            LABEL: churned,
        },
        columns=COLUMNS,
    )


def split(df: pd.DataFrame, seed: int, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle deterministically and split into (train, holdout)."""
    order = np.random.default_rng(seed + 1).permutation(len(df))
    n_holdout = round(holdout_fraction * len(df))
    holdout = df.iloc[order[:n_holdout]].reset_index(drop=True)
    train = df.iloc[order[n_holdout:]].reset_index(drop=True)
    return train, holdout


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="customers to generate")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--out", type=Path, default=Path("data"), help="output folder")
    args = parser.parse_args(argv)

    train, holdout = split(make_dataset(args.rows, args.seed), args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(train, args.out / "train.csv")
    write_csv(holdout, args.out / "holdout.csv")
    rate = float(pd.concat([train, holdout])[LABEL].mean())
    print(f"wrote {len(train)} train and {len(holdout)} holdout rows to {args.out} (churn rate {rate:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
