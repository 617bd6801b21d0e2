"""The step protocol as Jenkins drives it: params file in, result file out, exit code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci import protocol, steps
from mlci.errors import InfrastructureError
from mlci.step import StepContext, StepResult

RESULT_KEYS = {
    "step",
    "command",
    "status",
    "exitCode",
    "summary",
    "outputs",
    "reports",
    "junit",
    "service",
    "durationSeconds",
    "mlciVersion",
}

Mlci = Callable[..., subprocess.CompletedProcess[str]]


def run_step(mlci: Mlci, project: Path, params: object, command: str = "test") -> tuple[int, dict, str]:
    params_file = project / "params.json"
    params_file.write_text(params if isinstance(params, str) else json.dumps(params))
    proc = mlci(command, "--params", params_file.name, "--result", "out/result.json")
    result = json.loads((project / "out" / "result.json").read_text())
    assert set(result) == RESULT_KEYS
    assert result["exitCode"] == proc.returncode
    return proc.returncode, result, proc.stderr


def test_passed(mlci: Mlci, project: Path) -> None:
    code, result, _ = run_step(mlci, project, {"verbose": True})
    assert code == 0
    assert result["status"] == "passed" and result["step"] == "mlTest"
    assert result["outputs"]["tests"] == 1
    assert result["junit"] == "reports/test/junit.xml"
    assert result["reports"] == ["reports/test/junit.xml"]


def test_gate_failed_is_exit_1(mlci: Mlci, project: Path) -> None:
    (project / "tests" / "test_bad.py").write_text("def test_bad():\n    assert False\n")
    code, result, _ = run_step(mlci, project, {})
    assert (code, result["status"]) == (1, "failed")
    assert result["summary"].startswith("tests failed: 1 passed, 1 failed")


@pytest.mark.parametrize(
    ("params", "summary"),
    [
        ("{not json", "params.json:1 invalid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "params.json: expected a JSON object of step params, got a list"),
        ({"pathz": ["tests"]}, "params.json pathz: unknown parameter of mlTest; did you mean 'paths'?"),
        ({"configFile": "missing.yml"}, "missing.yml: not found"),
    ],
)
def test_bad_input_is_exit_2_with_a_result(mlci: Mlci, project: Path, params: object, summary: str) -> None:
    code, result, stderr = run_step(mlci, project, params)
    assert (code, result["status"]) == (2, "error")
    assert result["summary"].startswith(summary)
    assert stderr.count(summary) == 1, stderr  # once, not as "error:", "bad input:" and again


def test_bad_input_under_the_jenkins_step_is_left_to_it_detail_lines_stay(mlci: Mlci, project: Path) -> None:
    """The Groovy step (it sets MLCI_RESULT) prints the summary as its error; the CLI prints only
    what the result does not hold: every config error after the first."""
    bad = "model:\n  name: demo\n  task: classification\ntest:\n  timeout_minutes: soon\n  paths: 3\n"
    (project / "bad.yml").write_text(bad)
    (project / "p.json").write_text(json.dumps({"configFile": "bad.yml"}))
    proc = mlci("test", "--params", "p.json", "--result", "r.json", env={"MLCI_RESULT": "r.json"})
    summary = json.loads((project / "r.json").read_text())["summary"]
    assert proc.returncode == 2 and summary.startswith("bad.yml:5 test.timeout_minutes")
    assert summary not in proc.stderr and "bad.yml:6 test.paths" in proc.stderr, proc.stderr
    alone = mlci("test", "--params", "p.json", "--result", "r.json")
    assert alone.stderr.count(summary) == 1, alone.stderr


def test_missing_params_file_is_exit_2(mlci: Mlci, project: Path) -> None:
    proc = mlci("test", "--params", "nope.json", "--result", "r.json")
    assert proc.returncode == 2
    assert json.loads((project / "r.json").read_text())["summary"] == "nope.json: params file not found"


def test_bad_config_through_params_names_the_file(mlci: Mlci, project: Path) -> None:
    (project / "bad.yml").write_text("model:\n  name: demo\n  task: classification\ntest:\n  timeout_minutes: soon\n")
    code, result, _ = run_step(mlci, project, {"configFile": "bad.yml"})
    assert code == 2
    assert result["summary"] == "bad.yml:5 test.timeout_minutes: expected a number, got 'soon'"


def test_unexpected_exception_is_exit_3_traceback_in_log_only(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(ctx: StepContext) -> StepResult:
        raise ZeroDivisionError("division by zero in the model code")

    monkeypatch.setattr(steps, "run", boom)
    code, result = protocol.execute("test", {})
    assert code == 3 and result["status"] == "error"
    assert result["summary"] == "unexpected ZeroDivisionError in mlci test (traceback in the log)"
    stderr = capsys.readouterr().err
    assert "Traceback (most recent call last)" in stderr and "division by zero in the model code" in stderr


def test_infrastructure_error_names_the_service(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(ctx: StepContext) -> StepResult:
        raise InfrastructureError("MLflow tracking server at http://127.0.0.1:1", "connection refused")

    monkeypatch.setattr(steps, "run", down)
    code, result = protocol.execute("test", {})
    assert code == 3
    assert result["service"] == "MLflow tracking server at http://127.0.0.1:1"
    assert result["summary"] == "MLflow tracking server at http://127.0.0.1:1: connection refused"


def test_secrets_never_reach_result_or_log(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-Pa55word"  # noqa: S105 (a fake secret, to prove it is masked)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secret)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123456")

    def leaky(ctx: StepContext) -> StepResult:
        from mlci import log

        log.info(f"connecting with {secret}")
        return StepResult("failed", f"auth failed for {secret}", {"url": f"http://u:{secret}@h", "t": ["tok-123456"]})

    monkeypatch.setattr(steps, "run", leaky)
    _code, result = protocol.execute("test", {})
    protocol.write_result("r.json", result)
    written = Path("r.json").read_text()
    assert secret not in written and "tok-123456" not in written
    assert result["summary"] == "auth failed for ****"
    assert secret not in capsys.readouterr().err


def test_result_written_atomically(project: Path) -> None:
    protocol.write_result("deep/dir/r.json", {"status": "passed"})
    assert json.loads(Path("deep/dir/r.json").read_text()) == {"status": "passed"}
    assert list(Path("deep/dir").iterdir()) == [Path("deep/dir/r.json")]
