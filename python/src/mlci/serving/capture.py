"""Sampled capture of request inputs, for drift checks against the training data.

A sampled request's rows are appended to `<dir>/inputs-<UTC hour>-<pid>.jsonl`, one JSON object
per row (column -> value), so a drift job can read a folder of them as one table.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any


class Capture:
    def __init__(self, folder: Path, rate: float) -> None:
        self.folder = folder
        self.rate = rate
        self._random = random.Random()  # noqa: S311 - sampling, not security
        folder.mkdir(parents=True, exist_ok=True)

    def sampled(self) -> bool:
        return self.rate >= 1.0 or self._random.random() < self.rate

    def write(self, frame: Any) -> int:
        import os

        path = self.folder / f"inputs-{time.strftime('%Y%m%dT%H', time.gmtime())}-{os.getpid()}.jsonl"
        text = frame.to_json(orient="records", lines=True, date_format="iso")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        return len(frame)
