"""resources/io/mlci/bootstrap.sh for real: build the wheel, install it into a venv, reuse it.

Runs in the project's venv: `python/.venv/bin/python -m pytest tests/e2e/test_bootstrap.py`.
Builds the wheel with `make dist` (uv from the venv) and needs network access to the package
index for the wheel's dependencies (pip honours SSL_CERT_FILE / PIP_INDEX_URL as usual).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "resources" / "io" / "mlci" / "bootstrap.sh"
VERSION = (ROOT / "resources" / "io" / "mlci" / "version.txt").read_text().strip()
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # Not the caller's venv: bootstrap.sh must find its own interpreter.
    env.pop("VIRTUAL_ENV", None)
    if Path(CA_BUNDLE).exists():
        env.setdefault("SSL_CERT_FILE", CA_BUNDLE)
        env.setdefault("PIP_CERT", CA_BUNDLE)
    env.update(extra)
    return env


def _run(env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    # `sh` is dash on Debian, as on most Jenkins agents.
    return subprocess.run(["sh", str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `make dist` builds: what a site publishes for its agents."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["make", "--no-print-directory", "-s", "dist", f"DIST={out}"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = sorted(out.glob("mlci-*.whl"))
    assert len(wheels) == 1, wheels
    assert proc.stdout.strip().splitlines()[-1] == str(wheels[0])
    return wheels[0]


@pytest.fixture(scope="module")
def python311() -> str:
    """An interpreter >= 3.11 with venv: this test's own, which runs in the project's venv."""
    return getattr(sys, "_base_executable", None) or sys.executable


@pytest.fixture(scope="module")
def installed(wheel: Path, python311: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    venv = tmp_path_factory.mktemp("agent-cache") / "venv"
    env = _env(MLCI_VERSION=VERSION, MLCI_VENV=str(venv), MLCI_PIP_SOURCE=str(wheel), MLCI_PYTHON=python311)
    start = time.monotonic()
    proc = _run(env)
    return {"proc": proc, "venv": venv, "env": env, "seconds": time.monotonic() - start}


def test_installs_the_wheel_and_prints_the_cli_path(installed: dict[str, object]) -> None:
    proc = installed["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    cli = Path(lines[-1])
    assert cli == Path(str(installed["venv"])) / "bin" / "mlci"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"mlci {VERSION}"


def test_second_run_reuses_the_venv(installed: dict[str, object]) -> None:
    first = installed["proc"]
    assert isinstance(first, subprocess.CompletedProcess) and first.returncode == 0, first
    env = installed["env"]
    assert isinstance(env, dict)
    cli = Path(str(installed["venv"])) / "bin" / "mlci"
    before = cli.stat().st_mtime_ns
    start = time.monotonic()
    proc = _run(env)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(cli)
    assert "reusing" in proc.stderr
    assert "installing" not in proc.stderr
    assert cli.stat().st_mtime_ns == before
    assert elapsed < 5, f"reuse took {elapsed:.1f}s"


def test_other_version_is_reinstalled_not_reused(installed: dict[str, object], tmp_path: Path) -> None:
    env = dict(installed["env"])  # type: ignore[arg-type]
    env["MLCI_VERSION"] = "9.9.9"
    env["MLCI_VENV"] = str(tmp_path / "venv")  # its own: the shared venv stays for other tests
    proc = _run(env)
    # The wheel is 0.1.0, so asking for 9.9.9 must fail loudly, not hand back 0.1.0.
    assert proc.returncode != 0
    assert f"reports 'mlci {VERSION}', not 'mlci 9.9.9'" in proc.stderr
    assert proc.stdout.strip() == ""


def test_missing_python_names_the_fix(tmp_path: Path) -> None:
    env = _env(
        MLCI_VERSION=VERSION,
        MLCI_VENV=str(tmp_path / "venv"),
        MLCI_PYTHON=str(tmp_path / "no-python3"),
        MLCI_BOOTSTRAP_ERROR=str(tmp_path / "error"),
    )
    proc = _run(env, timeout=60)
    assert proc.returncode != 0
    for fix in ("python3 (>= 3.11)", "python3-venv", "MLCI_PYTHON", "dockerImage"):
        assert fix in proc.stderr, proc.stderr
    assert "python3-venv" in (tmp_path / "error").read_text()
    assert proc.stdout.strip() == ""
    assert not (tmp_path / "venv").exists()


def test_no_python_on_path_names_the_fix(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "mkdir", "cat", "rm", "sleep"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = _env(MLCI_VERSION=VERSION, MLCI_VENV=str(tmp_path / "venv"), PATH=str(bin_dir))
    env.pop("MLCI_PYTHON", None)
    proc = subprocess.run(["/bin/sh", str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode != 0
    assert "no python3 >= 3.11 with venv found on PATH" in proc.stderr
    assert "python3-venv" in proc.stderr


def test_pip_failure_shows_pips_error(python311: str, tmp_path: Path) -> None:
    # An index without mlci (what an agent sees before the site publishes the wheel): pip's own
    # error is the message, in the log and in the error file the library shows, not Python advice.
    index = tmp_path / "index"
    index.mkdir()
    error_file = tmp_path / "bootstrap.error"
    env = _env(
        MLCI_VERSION="9.9.9",
        MLCI_VENV=str(tmp_path / "venv"),
        MLCI_PYTHON=python311,
        MLCI_PIP_INDEX_URL=index.as_uri(),
        MLCI_BOOTSTRAP_ERROR=str(error_file),
        PIP_CONFIG_FILE=os.devnull,
        PIP_FIND_LINKS="",
        PIP_EXTRA_INDEX_URL="",
    )
    proc = _run(env, timeout=120)
    assert proc.returncode != 0
    pip_says = "ERROR: No matching distribution found for mlci"
    message = error_file.read_text()
    assert message.startswith("pip install mlci[all]==9.9.9 failed (exit 1): "), message
    assert pip_says in message and pip_says in proc.stderr
    for fix in ("MLCI_PIP_INDEX_URL", "MLCI_PIP_SOURCE", "docs/getting-started.md"):
        assert fix in message
    assert "python3-venv" not in message
    assert not (tmp_path / "venv").exists()
    assert proc.stdout.strip() == ""


def test_missing_version_is_an_error(tmp_path: Path) -> None:
    env = _env(MLCI_VENV=str(tmp_path / "venv"))
    env.pop("MLCI_VERSION", None)
    proc = _run(env, timeout=60)
    assert proc.returncode != 0
    assert "MLCI_VERSION is not set" in proc.stderr
