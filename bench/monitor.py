"""Monitor: `mlci monitor` end to end over 100k captured request rows (20 columns, JSON Lines
batches as the model server writes them) against a reference file, beside `mlci drift` on the
same data in the same run. Target: ≤ 5 s. Writes its section of docs/benchmarks.md.

    python bench/monitor.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from benchdoc import write_section

from mlci.drift import reference

BEGIN, END = "<!-- monitor:begin -->", "<!-- monitor:end -->"
ROWS, BATCHES, REPEATS = 100_000, 20, 3
MLCI = str(Path(sys.executable).parent / "mlci")


def table(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"x{i}": rng.normal(i + shift, 1 + i, ROWS) for i in range(16)}
    for i in range(4):
        data[f"c{i}"] = rng.choice(["a", "b", "c", "d"], ROWS, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame(data)


def timed(argv: list[str], cwd: Path) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{argv}: exit {done.returncode}: {done.stderr}")
    return statistics.median(runs)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reference.save(reference.compute(table(0, 0.0)), root / "ref.json")
        captured = root / "captured"
        captured.mkdir()
        current, size = table(1, 0.5), ROWS // BATCHES
        for i in range(BATCHES):
            current.iloc[i * size : (i + 1) * size].to_json(
                captured / f"inputs-{i:02d}.jsonl", orient="records", lines=True
            )
        (root / ".mlci.yml").write_text(
            "version: 1\nmodel: {name: bench, task: classification}\n"
            "monitoring: {drift: {reference: ref.json, current: captured}}\n"
        )
        monitor = timed([MLCI, "monitor"], root)
        drift = timed([MLCI, "drift"], root)
    ok = monitor <= 5.0
    section = "\n".join([
        BEGIN, "## Monitor: 100k captured rows", "",
        f"`python bench/monitor.py`: {ROWS:,} rows x 20 columns in {BATCHES} JSON Lines batches (as the server "
        f"captures them), reference file, median of {REPEATS} CLI runs end to end (start-up included). "
        "No Prometheus or Jenkins in this run: it measures reading, drift and the decision.", "",
        "| what | seconds | target |", "| --- | --- | --- |",
        f"| `mlci monitor` | {monitor:.2f} | ≤ 5 ({'met' if ok else 'MISSED'}) |",
        f"| `mlci drift` on the same data (same run) | {drift:.2f} | |", "", END,
    ])  # fmt: skip
    print(section)
    write_section(BEGIN, END, section)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
