"""Every report writer escapes what comes from data, config or a model: a column, category,
metric or file named like an HTML tag reaches the page as text, never as a tag."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write
from mlci import protocol
from mlci.data import suggest
from mlci.drift import check, reference
from mlci.drift import report as drift_report
from mlci.gate import report as gate_report
from mlci.gate.checks import MetricRow, SliceResult
from mlci.monitoring import notify
from mlci.reports import Check

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
HOSTILE = [SCRIPT, IMG, "a|b`c&d"]


def _no_raw_tag(text: str) -> None:
    lowered = text.lower()
    for tag in ("<script", "<img", "<b>"):
        assert tag not in lowered, f"raw {tag!r} in the report"
    assert "&lt;script&gt;" in text or "&lt;img" in text  # the names are there, as text


def _frame(seed: int, n: int, categories: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({SCRIPT: rng.normal(0, 1, n), IMG: rng.choice(categories, n), "ok": rng.integers(0, 5, n)})


def data_validate_page(project: Path) -> list[Path]:
    _frame(0, 300, ["x", "y"]).to_csv(project / "train.csv", index=False)
    bad = _frame(1, 50, [SCRIPT, IMG])  # category values outside the suite's set
    bad.to_csv(project / "bad.csv", index=False)
    write(project / "suite.json", json.dumps(suggest.suggest(_frame(0, 300, ["x", "y"]), SCRIPT, "train.csv")))
    with (project / ".mlci.yml").open("a") as f:
        f.write("data:\n  suite: suite.json\n  files: [train.csv, bad.csv]\n")
    code, result = protocol.execute("data-validate", {})
    assert code == 1, result["summary"]
    return [project / "reports" / "data-validate" / "report.html"]


def _gate() -> gate_report.Gate:
    checks = [Check(f"metric {name}", False, f"{name} 0.1 < 0.5") for name in HOSTILE]
    checks.append(Check(f"slices {IMG} accuracy", False, f"{SCRIPT}=0.2 < 0.5"))
    return gate_report.Gate(
        model="demo",
        run_id=SCRIPT,
        champion_version="1",
        champion_reused=False,
        holdout=IMG,
        holdout_digest="<b>digest</b>",
        rows=[MetricRow(name, 0.1, 0.2, True, False) for name in HOSTILE],
        checks=checks,
        slices=[SliceResult(IMG, SCRIPT, {SCRIPT: (0.2, 10), IMG: (0.9, 10)})],
        confusion=([SCRIPT, IMG], [[3, 1], [2, 4]]),
        residuals=None,
    )


def gate_html(project: Path) -> list[Path]:
    return [gate_report.write_html_report(project / "validation.html", _gate())]


def gate_markdown(project: Path) -> list[Path]:
    path = project / "summary.md"
    path.write_text(gate_report.markdown(_gate()), encoding="utf-8")
    return [path]


def drift_page(project: Path) -> list[Path]:
    ref = reference.compute(_frame(0, 2000, ["x", "y"]))
    current = _frame(3, 2000, [SCRIPT, IMG, "x"])
    result = check.compare(ref, current, check.Thresholds(), IMG, 100_000)
    assert result.drifted
    return [drift_report.write_page(project / "drift.html", result, SCRIPT, IMG, SCRIPT)]


def monitor_slack_message(project: Path) -> list[Path]:
    doc = {
        "model": SCRIPT,
        "modelVersion": IMG,
        "summary": f"drift in {SCRIPT} <!channel>",
        "breaches": [{"check": "drift", "detail": f"{IMG}, <https://evil.example|click>"}],
        "retrain": {"decision": SCRIPT},
    }
    path = project / "slack.json"
    path.write_text(json.dumps(notify.slack_body(doc), ensure_ascii=False), encoding="utf-8")
    assert "<!channel>" not in path.read_text() and "<https://" not in path.read_text()
    return [path]


WRITERS: dict[str, Callable[[Path], list[Path]]] = {
    "data-validate report.html": data_validate_page,
    "validate validation.html": gate_html,
    "validate summary.md": gate_markdown,
    "drift drift.html": drift_page,
    "monitor Slack message": monitor_slack_message,
}


@pytest.mark.parametrize("writer", list(WRITERS), ids=list(WRITERS))
def test_hostile_names_reach_no_report_as_tags(writer: str, project: Path) -> None:
    for path in WRITERS[writer](project):
        _no_raw_tag(path.read_text(encoding="utf-8"))


def test_markdown_keeps_table_rows_whole() -> None:
    text = gate_report.markdown(_gate())
    rows = [line for line in text.splitlines() if line.startswith("| ") and "0.1000" in line]
    assert len(rows) == len(HOSTILE)
    assert all(line.replace("\\|", "").count("|") == 7 for line in rows)  # a `|` in a name is escaped
