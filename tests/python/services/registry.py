"""A real image registry (Debian's docker-registry) on 127.0.0.1 and a free port, with its own
config and storage; 127.0.0.0/8 is an insecure registry for dockerd by default."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.pushgateway import binary, free_port, wait_ready

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


def start(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a registry storing under `workdir`; return the process and its host:port."""
    port = free_port()
    (workdir / "storage").mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(CONFIG.format(root=workdir / "storage", port=port), encoding="utf-8")
    log = workdir / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary("docker-registry"), "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/", proc, log)
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
