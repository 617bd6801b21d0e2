"""The Docker engine (Debian's docker.io): the daemon that answers, or a `dockerd` started for
the session and stopped at teardown; one that was already running is left running."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SOCKET = Path("/var/run/docker.sock")
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


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """The daemon's socket URL, with a daemon answering on it."""
    url = os.environ.get("DOCKER_HOST", f"unix://{SOCKET}")
    if _answers():
        yield url
        return
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists():
        raise RuntimeError("dockerd not installed: `make setup` installs the Debian package docker.io")
    log = Path(tempfile.mkdtemp(prefix="mlci-dockerd-")) / "dockerd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def base_image(docker_engine: str) -> str:
    """The air-gapped Python base (`mlci base-image`), its rootfs cached under .cache/ for the machine."""
    from mlci.image import base

    base.ensure(BASE_IMAGE, REPO / ".cache" / "base-image")
    return BASE_IMAGE
