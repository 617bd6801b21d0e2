"""Generate a drifted "production" sample of the churn data, as the model server captures it.

Rows come from the same generator as the training data (``make_data.py``, another seed) and
then drift the way a market changes: prices rise by about one standard deviation, newer
customers (shorter tenure, more month-to-month contracts, more support calls), a payment
method the training data never saw, and a burst of missing ``total_charges``. The label is
dropped. Rows are written as JSON-lines request batches, like the server's capture folder:

    python make_production.py --rows 3000 --seed 11 --out data/production/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from make_data import LABEL, make_dataset

NEW_PAYMENT_METHOD = "crypto_wallet"
NEW_PAYMENT_SHARE = 0.15
MISSING_TOTAL_SHARE = 0.25
BATCH_ROWS = 500


def drift(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The drifted copy of ``df`` (without its label)."""
    # Not `seed` itself: make_dataset drew the contracts from the same stream, and drift must
    # not pick exactly the rows that are already month-to-month.
    rng = np.random.default_rng([seed, 1])
    out = df.drop(columns=[LABEL]).copy()
    n = len(out)
    out["monthly_charges"] = np.round(out["monthly_charges"] + 30.0, 2)  # about 1 sd of the training data
    out["tenure_months"] = np.maximum(1, out["tenure_months"] // 3)
    newcomers = rng.random(n) < 0.4
    out["contract"] = np.where(newcomers, "month-to-month", out["contract"])
    out["support_calls"] = out["support_calls"] + rng.poisson(1.5, n)
    out["total_charges"] = np.round(out["tenure_months"] * out["monthly_charges"], 2)
    out["total_charges"] = out["total_charges"].where(rng.random(n) >= MISSING_TOTAL_SHARE)
    out["payment_method"] = np.where(rng.random(n) < NEW_PAYMENT_SHARE, NEW_PAYMENT_METHOD, out["payment_method"])
    return out


def write_batches(df: pd.DataFrame, out: Path, batch_rows: int = BATCH_ROWS) -> list[Path]:
    """JSON-lines files of ``batch_rows`` rows each, named like the server's capture files."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, start in enumerate(range(0, len(df), batch_rows)):
        path = out / f"inputs-batch{i:04d}.jsonl"
        df.iloc[start : start + batch_rows].to_json(path, orient="records", lines=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path("data/production"))
    args = parser.parse_args(argv)
    for old in args.out.glob("inputs-*.jsonl"):
        old.unlink()  # a rerun replaces the sample instead of adding to it
    paths = write_batches(drift(make_dataset(args.rows, args.seed), args.seed), args.out)
    print(f"wrote {args.rows} drifted rows in {len(paths)} batches to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
