"""The Docker engine (Debian's docker.io): the daemon that answers, or a `dockerd` started here.

A started daemon is left running for the machine, like `make demo-services` leaves it: other
pytest runs, benchmarks and the demo may be using it by then, and no one process can know when
the last of them is done. It runs detached in its own session (a test run's Ctrl-C does not
reach it), with dockerd's own pidfile, and logs to .cache/dockerd.log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SOCKET = Path("/var/run/docker.sock")
PIDFILE = Path("/var/run/docker.pid")  # dockerd's default
REPO = Path(__file__).resolve().parents[3]
BASE_IMAGE = "mlci/python:3.11-bookworm"
STARTUP_SECONDS = 60


def _answers() -> bool:
    import docker
    from docker.errors import DockerException

    try:
        docker.from_env(timeout=5).ping()
    except DockerException:
        return False
    return True


def _other_daemon() -> bool:
    try:
        return Path(f"/proc/{int(PIDFILE.read_text().strip())}/exe").exists()
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The daemon's socket URL, with a daemon answering on it."""
    url = os.environ.get("DOCKER_HOST", f"unix://{SOCKET}")
    if _answers():
        return url
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists():
        raise RuntimeError("dockerd not installed: `make setup` installs the Debian package docker.io")
    log = REPO / ".cache" / "dockerd.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [dockerd], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers():
        # Ours exits at once when another process started a daemon first (dockerd's pidfile):
        # then wait for that one.
        if (proc.poll() is not None and not _other_daemon()) or time.monotonic() > deadline:
            raise RuntimeError(f"dockerd did not come up: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)
    return url


@pytest.fixture(scope="session")
def base_image(docker_engine: str) -> str:
    """The air-gapped Python base (`mlci base-image`), its rootfs cached under .cache/ for the machine."""
    from mlci.image import base

    base.ensure(BASE_IMAGE, REPO / ".cache" / "base-image")
    return BASE_IMAGE
