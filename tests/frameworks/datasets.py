"""Seeded data for the framework matrix: numeric features with a known signal, and a holdout
that carries columns no model takes (an id and a group used only for slices), as real holdouts do."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

FEATURES = ["x1", "x2", "x3", "x4"]
EXTRA = ["row_id", "group"]


def make(task: str, rows: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(columns, features, target) for `regression`, `binary` or `multiclass` (3 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    signal = 2.0 * x[:, 0] - 1.5 * x[:, 1] + 0.8 * x[:, 2] * x[:, 3]
    noisy = signal + rng.normal(scale=0.5, size=rows)
    if task == "regression":
        y = 10.0 + 3.0 * noisy
    elif task == "binary":
        y = (noisy > 0).astype(int)
    else:
        y = np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])).astype(int)
    return FEATURES, x, y


def write(folder: Path, task: str, target: str, train_rows: int = 1500, holdout_rows: int = 400) -> None:
    """data/train.csv (features and target) and data/holdout.csv (plus row_id and group)."""
    columns, x, y = make(task, train_rows + holdout_rows, seed=11)
    folder.mkdir(parents=True, exist_ok=True)
    for name, start, stop, extra in (
        ("train.csv", 0, train_rows, False),
        ("holdout.csv", train_rows, train_rows + holdout_rows, True),
    ):
        with (folder / name).open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([*(EXTRA if extra else []), *columns, target])
            for i in range(start, stop):
                ids = [f"r{i:05d}", "ab"[i % 2]] if extra else []
                writer.writerow([*ids, *(round(float(v), 5) for v in x[i]), y[i].item()])
