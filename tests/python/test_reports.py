from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mlci import reports


def test_junit_round_trip(tmp_path: Path) -> None:
    checks = [
        reports.Check("accuracy >= 0.8", True, "0.86 >= 0.8", seconds=0.5),
        reports.Check("f1 vs champion", False, "0.61 < 0.64 (champion) + 0.01", details="long <text> & more"),
    ]
    path = reports.write_junit(tmp_path / "r" / "junit.xml", "mlValidate", checks)
    counts = reports.junit_counts(path)
    assert (counts.tests, counts.failures, counts.errors, counts.skipped, counts.passed) == (2, 1, 0, 0, 1)
    text = path.read_text()
    assert 'message="0.61 &lt; 0.64 (champion) + 0.01"' in text and "long &lt;text&gt; &amp; more" in text


def test_html_escapes_text_but_not_markup(tmp_path: Path) -> None:
    body = reports.html_table(["check", "status"], [["<script>x</script>", reports.status(False)]])
    page = reports.write_html(tmp_path / "r.html", "A & B", body).read_text()
    assert "&lt;script&gt;x&lt;/script&gt;" in page and '<span class="fail">FAILED</span>' in page
    assert "<title>A &amp; B</title>" in page and "http" not in page


def test_junit_stays_parseable_with_control_characters_in_names(tmp_path: Path) -> None:
    checks = [reports.Check("column a\x00b\x1b[31m", False, "bad \x08 value", details="x\x0cy")]
    path = reports.write_junit(tmp_path / "junit.xml", "data-validate", checks)
    case = next(ET.parse(path).getroot().iter("testcase"))  # noqa: S314 - ours
    assert case.get("name") == "column a\ufffdb\ufffd[31m"
    assert reports.junit_counts(path).failures == 1
