"""A real Prometheus Pushgateway (Debian's prometheus-pushgateway) and a real Prometheus that
scrapes it, each on a free port, stopped at teardown."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ports import free_port

STARTUP_SECONDS = 30


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local service
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {STARTUP_SECONDS}s: {log.read_text()[-2000:]}")


def binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        raise RuntimeError(f"{name} not installed: `make setup` installs the Debian package")
    return path


@dataclass(frozen=True)
class Service:
    url: str


@contextmanager
def _start(argv: list[str], ready_url: str, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = workdir / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_ready(ready_url, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A Pushgateway without persistence, for the whole session."""
    workdir = tmp_path_factory.mktemp("pushgateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [binary("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    with _start(argv, f"{url}/-/ready", workdir):
        yield Service(url)


@pytest.fixture
def prometheus(pushgateway: Service, tmp_path: Path) -> Iterator[Service]:
    """A Prometheus scraping the Pushgateway every second (honor_labels, as its docs require)."""
    port = free_port()
    target = pushgateway.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    argv = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _start(argv, f"http://127.0.0.1:{port}/-/ready", tmp_path):
        yield Service(f"http://127.0.0.1:{port}")
