"""Checks on the drifted "production" sample generator."""

from __future__ import annotations

from pathlib import Path

import make_data
import make_production
import pandas as pd


def test_drift_changes_what_it_says_and_drops_the_label() -> None:
    base = make_data.make_dataset(4000, seed=5)
    out = make_production.drift(base, seed=5)
    assert make_data.LABEL not in out.columns and len(out) == len(base)
    assert out["monthly_charges"].mean() - base["monthly_charges"].mean() > 25
    assert (out["contract"] == "month-to-month").mean() > (base["contract"] == "month-to-month").mean() + 0.15
    assert 0.1 < (out["payment_method"] == make_production.NEW_PAYMENT_METHOD).mean() < 0.2
    assert 0.2 < out["total_charges"].isna().mean() < 0.3
    assert out["region"].equals(base["region"])  # left alone


def test_batches_are_json_lines_records(tmp_path: Path) -> None:
    frame = make_production.drift(make_data.make_dataset(1200, seed=1), seed=1)
    paths = make_production.write_batches(frame, tmp_path, batch_rows=500)
    assert [p.name for p in paths] == ["inputs-batch0000.jsonl", "inputs-batch0001.jsonl", "inputs-batch0002.jsonl"]
    back = pd.concat([pd.read_json(p, lines=True) for p in paths], ignore_index=True)
    assert len(back) == 1200 and list(back.columns) == list(frame.columns)
