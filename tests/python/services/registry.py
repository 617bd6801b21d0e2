"""A real image registry (Debian's docker-registry) on 127.0.0.1 and a free port, with its own
config and storage; 127.0.0.0/8 is an insecure registry for dockerd by default. A second one
requires a login (htpasswd, bcrypt), for pushes with credentials."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ports import free_port
from services.pushgateway import binary, wait_ready

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
AUTH = """\
auth:
  htpasswd:
    realm: mlci-test
    path: {htpasswd}
"""


def start(workdir: Path, htpasswd: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a registry storing under `workdir` (requiring the logins in `htpasswd`, if given);
    return the process and its host:port."""
    port = free_port()
    (workdir / "storage").mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    text = CONFIG.format(root=workdir / "storage", port=port)
    if htpasswd:
        text += AUTH.format(htpasswd=htpasswd)
    config.write_text(text, encoding="utf-8")
    log = workdir / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary("docker-registry"), "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        # /v2/ answers 401 while a login is required: the health endpoint says it is up.
        wait_ready(f"http://127.0.0.1:{port}/" if htpasswd else f"http://127.0.0.1:{port}/v2/", proc, log)
    except RuntimeError:
        proc.kill()
        raise
    return proc, f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a registry for this test session."""
    proc, address = start(tmp_path_factory.mktemp("registry"))
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class LoginRegistry:
    address: str
    username: str
    password: str


@pytest.fixture(scope="session")
def login_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginRegistry]:
    """A registry that refuses anonymous pulls and pushes; one user with a random password."""
    workdir = tmp_path_factory.mktemp("login-registry")
    username, password = "mlci", secrets.token_urlsafe(16)
    # The password goes in on stdin, never on a command line.
    entry = subprocess.run(
        [binary("htpasswd"), "-B", "-i", "-n", username], input=password, capture_output=True, text=True, check=True
    ).stdout
    (workdir / "htpasswd").write_text(entry, encoding="utf-8")
    proc, address = start(workdir, workdir / "htpasswd")
    try:
        yield LoginRegistry(address, username, password)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
