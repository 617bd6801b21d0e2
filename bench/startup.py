"""Startup: `import mlci` and `mlci --help` against the anchors, measured in the same run.

    python bench/startup.py [--runs N]

Anchors: `import great_expectations` and `import mlflow` (what a step would pay if it imported
them at start-up), `mlflow --help`. Writes the results into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchdoc import write_section

BIN = Path(sys.executable).parent
BEGIN, END = "<!-- startup:begin -->", "<!-- startup:end -->"

CASES = [
    (
        "import mlci",
        [sys.executable, "-c", "import mlci"],
        "import great_expectations",
        [sys.executable, "-c", "import great_expectations"],
        0.15,
    ),
    (
        "import mlci",
        [sys.executable, "-c", "import mlci"],
        "import mlflow",
        [sys.executable, "-c", "import mlflow"],
        0.15,
    ),
    ("mlci --help", [str(BIN / "mlci"), "--help"], "mlflow --help", [str(BIN / "mlflow"), "--help"], 0.3),
]


def median_seconds(argv: list[str], runs: int) -> float:
    subprocess.run(argv, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows = []
    failed = False
    for ours, our_argv, anchor, anchor_argv, target in CASES:
        mine = median_seconds(our_argv, args.runs)
        theirs = median_seconds(anchor_argv, max(3, args.runs // 2))
        ok = mine <= target
        failed |= not ok
        rows.append(
            f"| `{ours}` | {mine:.3f} s | `{anchor}` | {theirs:.3f} s | {theirs / mine:.0f}x | ≤ {target} s: "
            f"{'met' if ok else 'MISSED'} |"
        )
        print(rows[-1])
    section = "\n".join(
        [
            BEGIN,
            "## Startup",
            "",
            f"`python bench/startup.py --runs {args.runs}` (median wall time of fresh processes; "
            f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
            f"{time.strftime('%Y-%m-%d')}):",
            "",
            "| ours | time | anchor | time | anchor / ours | target |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            END,
        ]
    )
    write_section(BEGIN, END, section)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
