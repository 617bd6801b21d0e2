"""`mlci test` against real pytest runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conftest import write
from mlci import protocol


def run(params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    return protocol.execute("test", params or {})


def test_counts_and_junit(project: Path) -> None:
    write(
        project / "tests" / "test_more.py",
        """\
        import pytest

        def test_a():
            pass

        @pytest.mark.skip(reason="later")
        def test_b():
            pass
        """,
    )
    code, result = run()
    assert code == 0
    assert result["outputs"] | {"durationSeconds": 0} == {
        "tests": 3,
        "failures": 0,
        "errors": 0,
        "skipped": 1,
        "durationSeconds": 0,
    }
    assert (project / "reports" / "test" / "junit.xml").is_file()
    assert result["summary"].startswith("2 passed, 0 failed, 0 errors, 1 skipped (tests, ")


def test_failure_fails_the_gate(project: Path) -> None:
    write(project / "tests" / "test_bad.py", "def test_bad():\n    assert 1 == 2\n")
    code, result = run()
    assert code == 1
    assert result["outputs"]["failures"] == 1
    assert result["junit"] == "reports/test/junit.xml"


def test_no_tests_collected_is_not_a_pass(project: Path) -> None:
    (project / "tests" / "test_model.py").write_text("# nothing here\n")
    code, result = run()
    assert (code, result["summary"]) == (1, "no tests were collected from tests")


def test_deselecting_everything_is_not_a_pass(project: Path) -> None:
    code, result = run({"pytestArgs": ["-k", "no_such_test"]})
    assert (code, result["summary"]) == (1, "no tests were collected from tests")


def test_collection_error_fails(project: Path) -> None:
    write(project / "tests" / "test_syntax.py", "def test_x(:\n")
    code, result = run()
    assert code == 1
    assert result["outputs"]["errors"] == 1


def test_params_override_config(project: Path) -> None:
    write(project / "other" / "test_other.py", "def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    code, result = run({"paths": ["other"]})
    assert code == 0 and result["outputs"]["tests"] == 2


def test_missing_path_is_bad_input(project: Path) -> None:
    code, result = run({"paths": ["nope"]})
    assert code == 2
    assert result["summary"] == f"test.paths: nope not found in {project}"


def test_missing_command_is_bad_input(project: Path) -> None:
    code, result = run({"command": ["no-such-python-here"]})
    assert (code, result["summary"]) == (2, "test.command: 'no-such-python-here' not found on PATH")


def test_command_without_pytest_is_bad_input(project: Path) -> None:
    code, result = run({"command": [sys.executable, "-c", "import sys; sys.exit(1)"]})
    assert code == 2
    assert result["summary"].startswith("test.command exited 1 without writing a JUnit report")


def test_stale_junit_never_counts(project: Path) -> None:
    stale = project / "reports" / "test" / "junit.xml"
    write(stale, '<testsuites><testsuite tests="9" failures="0" errors="0" skipped="0"/></testsuites>')
    code, _result = run({"command": [sys.executable, "-c", "import sys; sys.exit(0)"]})
    assert code == 2 and not stale.exists()


def test_timeout_fails_the_gate(project: Path) -> None:
    write(project / "tests" / "test_slow.py", "import time\n\ndef test_slow():\n    time.sleep(30)\n")
    code, result = run({"testTimeoutMinutes": 0.02})
    assert code == 1
    assert result["summary"] == "tests did not finish within 0.02 min (test.timeout_minutes)"
