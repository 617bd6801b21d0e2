"""Reading the JUnit XML that tools (pytest) write, for step outputs and summaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JUnitCounts:
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def junit_counts(path: Path) -> JUnitCounts:
    """Totals over every <testsuite> in a JUnit XML file (root <testsuites> or <testsuite>)."""
    # Our own report file, written by the pytest we just ran; expat here refuses entity expansion.
    root = ET.parse(path).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    return JUnitCounts(**totals)
