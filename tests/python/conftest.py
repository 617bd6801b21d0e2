"""Shared fixtures: a model project on disk and the real `mlci` console script."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Fixtures that start real services (MLflow server, dockerd and a registry, Pushgateway...),
# one module each under tests/python/services/.
pytest_plugins: list[str] = [
    "services.pushgateway",
    "services.docker_engine",
    "services.registry",
    "services.model_store",
    "services.mlflow_server",
    "services.model_images",
    "services.ssh_target",
    "services.jenkins_recorded",
    "services.monitored",
]

REPO = Path(__file__).resolve().parents[2]
MLCI = Path(sys.executable).parent / "mlci"

MINIMAL = """\
version: 1
model:
  name: demo
  task: classification
test:
  paths: [tests]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model repository with a minimal `.mlci.yml` and one passing test; the cwd."""
    write(tmp_path / ".mlci.yml", MINIMAL)
    write(tmp_path / "tests" / "test_model.py", "def test_ok():\n    assert 1 + 1 == 2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mlci(project: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed `mlci` console script in the project, as Jenkins would."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PATH": f"{MLCI.parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
        full_env.pop("JENKINS_URL", None)
        return subprocess.run(
            [str(MLCI), *args], cwd=cwd or project, env=full_env, capture_output=True, text=True, timeout=120
        )

    return run


def run_in_terminal(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the `mlci` console script in a real pseudo-terminal; its exit code and the screen."""
    import pty

    leader, follower = pty.openpty()
    full_env = {**os.environ, "PATH": f"{MLCI.parent}{os.pathsep}{os.environ['PATH']}", "TERM": "xterm", **(env or {})}
    full_env.pop("JENKINS_URL", None)
    proc = subprocess.Popen([str(MLCI), *args], cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=full_env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


@pytest.fixture(autouse=True)
def _mlflow_uris_restored() -> Iterator[None]:
    """Steps run in-process set mlflow's process-wide tracking and registry URIs, and mlflow
    copies them into os.environ (MLFLOW_TRACKING_URI, MLFLOW_REGISTRY_URI), where a later test
    or its subprocesses would pick them up: each test starts from the URIs it found."""
    saved_env = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        os.environ.pop(key)
    os.environ.update(saved_env)
    if "mlflow" in sys.modules:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        registry_utils._registry_uri = None
        tracking_utils._tracking_uri = None
