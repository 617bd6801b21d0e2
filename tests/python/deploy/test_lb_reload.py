"""A reload of the load balancer fails no request a client sends on a connection it kept alive:
the old HAProxy worker answers that request (with `Connection: close`) before it closes."""

from __future__ import annotations

import http.client
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from services.ansible_local import deploy_playbook, lb_inventory
from services.ports import free_port


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    lb_dir, port = tmp_path / "lb", free_port()
    lb = {"mlci_lb_dir": str(lb_dir), "mlci_lb_port": port, "mlci_lb_service": "reloadtest"}
    lb_inventory(tmp_path, lb, {"m1": {"ansible_host": "127.0.0.1"}})
    try:
        yield tmp_path, port
    finally:
        pid = lb_dir / "haproxy.pid"
        if pid.exists():
            os.kill(int(pid.read_text().split()[0]), signal.SIGTERM)


def playbook(root: Path, *extra: str) -> str:
    proc = deploy_playbook(root, "--limit", "load_balancers", *extra)
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
