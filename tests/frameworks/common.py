"""What every framework's train.py shares: arguments, the data, and the label shuffle that
makes a deliberately worse model (`--quality bad`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

FEATURES = ["x1", "x2", "x3", "x4"]


def args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--quality", choices=["good", "bad"], default="good")
    return parser.parse_args()


def data(a: argparse.Namespace) -> tuple[Any, Any]:
    """Features and target; for `bad`, the target shuffled (a model that learnt nothing)."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(a.data)
    x, y = frame[FEATURES], frame[a.target]
    if a.quality == "bad":
        y = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), name=a.target)
    return x, y


def run_id() -> str:
    return os.environ["MLFLOW_RUN_ID"]
