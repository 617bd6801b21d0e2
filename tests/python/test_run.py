"""`mlci run`: the plan run locally, in a pipe and in a real pseudo-terminal."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_in_terminal, write
from mlci import plan, run

Mlci = Callable[..., subprocess.CompletedProcess[str]]


def test_passing_pipeline_prints_summary_table(mlci: Mlci, project: Path) -> None:
    proc = mlci("run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["stage", "status", "time", "summary"]
    assert lines[2].split()[:3] == ["test", "passed", lines[2].split()[2]]
    assert "stage test: started" in proc.stderr  # plain lines when not in a terminal
    assert (project / "reports" / "run" / "test.result.json").is_file()


def test_failing_gate_stops_and_exits_1(mlci: Mlci, project: Path) -> None:
    write(project / "tests" / "test_bad.py", "def test_bad():\n    assert False\n")
    proc = mlci("run")
    assert proc.returncode == 1
    assert "test   failed" in proc.stdout
    assert "assert False" in proc.stderr  # pytest's own output is in the log


def test_bad_config_is_exit_2(mlci: Mlci, project: Path) -> None:
    (project / ".mlci.yml").write_text("model:\n  name: demo\n  task: classification\n  colour: red\n")
    proc = mlci("run")
    assert proc.returncode == 2
    assert ".mlci.yml:4 model.colour: unknown key" in proc.stderr


def test_in_a_terminal_output_goes_to_a_log_shown_on_failure(project: Path) -> None:
    write(project / "tests" / "test_bad.py", "def test_bad():\n    assert 'expected' == 'observed'\n")
    code, screen = run_in_terminal(["run"], project)
    assert code == 1
    log_file = project / "reports" / "run" / "test.log"
    assert "'expected' == 'observed'" in log_file.read_text()
    assert f"--- last lines of {log_file.relative_to(project)} ---" in screen
    assert "\r\x1b[K" in screen  # the live status line was drawn and cleared


def test_approval_without_yes_stops(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gated = plan.Stage("test", "mlTest", lambda c: True, needs_approval=lambda c: True)
    monkeypatch.setattr(plan, "STAGES", (gated,))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nobody to ask
    assert run.run(".mlci.yml", None, yes=False) == 1
    out = capsys.readouterr().out
    assert "approve-test  stopped" in out and "test          not run" in out
    assert run.run(".mlci.yml", None, yes=True) == 0
    assert "approve-test  approved" in capsys.readouterr().out


def test_table_aligns_columns() -> None:
    text = run.table([("test", "passed", 1.25, "ok"), ("approve-deploy", "approved", 0.0, "by --yes")])
    assert text.splitlines() == [
        "stage           status    time  summary",
        "--------------  --------  ----  -------",
        "test            passed    1.2s  ok",
        "approve-deploy  approved  0.0s  by --yes",
    ]
