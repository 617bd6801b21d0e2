"""`mlci test`: the model repository's pytest suite, with JUnit XML.

The gate fails when a test fails or errors and when nothing was collected: a test stage that
ran no test is not a pass.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

from mlci import log, masking
from mlci.errors import InfrastructureError, InputError
from mlci.reports import junit_counts
from mlci.step import StepContext, StepResult

# pytest's exit codes (pytest.ExitCode), without importing pytest here.
PYTEST_INTERNAL_ERROR = 3
PYTEST_USAGE_ERROR = 4
PYTEST_NO_TESTS = 5


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.test
    project = ctx.project_dir
    missing = [p for p in cfg.paths if not (project / p).exists()]
    if missing:
        raise InputError(f"test.paths: {', '.join(missing)} not found in {project.resolve()}")
    executable = shutil.which(cfg.command[0])
    if executable is None:
        raise InputError(f"test.command: {cfg.command[0]!r} not found on PATH")
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    junit = ctx.report_dir / "junit.xml"
    junit.unlink(missing_ok=True)  # a stale report must never stand in for this run
    argv = [executable, *cfg.command[1:], *cfg.paths, *cfg.args, f"--junitxml={junit.resolve()}"]
    log.info(f"running {shlex.join(argv)} in {project.resolve()}")
    started = time.monotonic()
    # pytest's own output goes, masked, to the log or the stage's log file; so does its report.
    try:
        with masking.masked_pipe(ctx.output, log.raw) as output:
            proc = subprocess.run(
                argv, cwd=project, stdout=output, stderr=subprocess.STDOUT, timeout=cfg.timeout_minutes * 60
            )
    except subprocess.TimeoutExpired:
        return StepResult("failed", f"tests did not finish within {cfg.timeout_minutes} min (test.timeout_minutes)")
    finally:
        masking.mask_file(junit)
    duration = round(time.monotonic() - started, 2)
    code = proc.returncode
    if code == PYTEST_USAGE_ERROR:
        raise InputError(f"pytest rejected its arguments (test.command, test.args): exit {code}; see the log")
    if code == PYTEST_INTERNAL_ERROR:
        raise InfrastructureError("pytest", "internal error; see the log")
    if not junit.exists():
        raise InputError(
            f"test.command exited {code} without writing a JUnit report: is pytest installed for "
            f"{cfg.command[0]!r}? see the log"
        )
    try:
        counts = junit_counts(junit)
    except ET.ParseError as err:
        raise InfrastructureError("pytest", f"unreadable JUnit report {junit}: {err}") from None
    outputs = {
        "tests": counts.tests,
        "failures": counts.failures,
        "errors": counts.errors,
        "skipped": counts.skipped,
        "durationSeconds": duration,
    }
    where = ", ".join(cfg.paths)
    tally = f"{counts.passed} passed, {counts.failures} failed, {counts.errors} errors, {counts.skipped} skipped"
    if code == PYTEST_NO_TESTS or counts.tests == 0:
        return StepResult("failed", f"no tests were collected from {where}", outputs, [junit], junit)
    if code != 0 or counts.failures or counts.errors:
        return StepResult("failed", f"tests failed: {tally} ({where}, {duration} s)", outputs, [junit], junit)
    return StepResult("passed", f"{tally} ({where}, {duration} s)", outputs, [junit], junit)
