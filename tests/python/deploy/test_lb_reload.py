"""A reload of the load balancer fails no request a client sends on a connection it kept alive:
the old HAProxy worker answers that request (with `Connection: close`) before it closes."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from services.ports import free_port

from conftest import REPO, write

PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    lb_dir, port = tmp_path / "lb", free_port()
    write(
        tmp_path / "inventory.yml",
        f"""\
        all:
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
          children:
            load_balancers:
              hosts:
                lb:
                  mlci_lb_dir: {lb_dir}
                  mlci_lb_port: {port}
                  mlci_lb_install: false
                  mlci_lb_service: reloadtest
            model_servers:
              hosts:
                m1: {{ansible_host: 127.0.0.1}}
        """,
    )
    try:
        yield tmp_path, port
    finally:
        pid = lb_dir / "haproxy.pid"
        if pid.exists():
            os.kill(int(pid.read_text().split()[0]), signal.SIGTERM)


def playbook(root: Path, *extra: str) -> str:
    argv = [str(PLAYBOOK), "-i", str(root / "inventory.yml"), str(REPO / "ansible" / "deploy.yml")]
    argv += ["--limit", "load_balancers", "-e", "mlci_server_image=registry.invalid/m@sha256:" + "0" * 64, *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_a_request_on_a_kept_alive_connection_across_a_reload_is_answered(lb: tuple[Path, int]) -> None:
    root, port = lb
    playbook(root)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/invocations")
    first = conn.getresponse()
    first.read()
    assert first.status == 503  # no slot enabled yet: HAProxy answers, and keeps the connection
    assert (first.getheader("connection") or "").lower() != "close"
    out = playbook(root, "-e", "mlci_lb_timeout_server=45s")  # a changed setting: a reload
    assert "RUNNING HANDLER [mlci_lb : Reload HAProxy]" in out
    # The old worker still holds the idle connection: it answers, then says it closes.
    conn.request("GET", "/invocations")
    second = conn.getresponse()
    second.read()
    assert second.status == 503 and (second.getheader("connection") or "").lower() == "close"
