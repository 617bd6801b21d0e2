"""The mlci_lb role's mlci_haproxy module against a real HAProxy admin socket: it sets weights
and states, drains before maintenance, does nothing when the state is already right, refuses
unknown servers and out-of-range weights, and changes nothing in check mode. Run as Ansible
runs a module: the file with its arguments as JSON."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from services.ansible_local import run_module
from services.ports import free_port

MODULE = Path(__file__).resolve().parents[3] / "ansible" / "roles" / "mlci_lb" / "library" / "mlci_haproxy.py"
CONFIG = """\
global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:{port}
    default_backend b
backend b
    server s1 127.0.0.1:9 disabled
    server s2 127.0.0.1:9 weight 20
"""


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Path]:
    sock = tmp_path / "admin.sock"
    (tmp_path / "haproxy.cfg").write_text(CONFIG.format(sock=sock, port=free_port()), encoding="utf-8")
    proc = subprocess.Popen(["haproxy", "-f", str(tmp_path / "haproxy.cfg")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    try:
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def module(sock: Path, servers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    args = {"socket": str(sock), "backend": "b", "servers": servers, "drain_timeout": 2, **extra}
    return run_module(MODULE, args)


def test_sets_weights_and_states_then_changes_nothing(haproxy: Path, tmp_path: Path) -> None:
    wanted = [{"name": "s1", "state": "ready", "weight": 50}, {"name": "s2", "state": "maint"}]
    first = module(haproxy, wanted, save_state=str(tmp_path / "state"))
    assert first["changed"] is True, first
    assert first["commands"] == [
        "set server b/s1 weight 50",
        "set server b/s1 state ready",
        "set server b/s2 state drain",
        "set server b/s2 state maint",
    ]
    assert first["servers"] == {"s1": {"state": "ready", "weight": 50}, "s2": {"state": "maint", "weight": 20}}
    saved = (tmp_path / "state").read_text()  # `show servers state`: a reload loads it back
    assert re.search(r"^\d+ b \d+ s1 \S+ \d+ \d+ 50 ", saved, re.MULTILINE), saved
    again = module(haproxy, wanted)
    assert again["changed"] is False and again["commands"] == [], again


def test_check_mode_says_what_it_would_do_and_does_nothing(haproxy: Path) -> None:
    planned = module(haproxy, [{"name": "s1", "state": "ready", "weight": 7}], _ansible_check_mode=True)
    assert planned["changed"] is True and planned["commands"][0] == "set server b/s1 weight 7"
    now = module(haproxy, [])
    assert now["servers"]["s1"]["state"] == "maint"  # still disabled, as the config has it


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([{"name": "s9", "state": "ready"}], "backend b has no server s9"),
        ([{"name": "s1", "state": "ready", "weight": 300}], "weight 300 is outside 0..256"),
    ],
)
def test_refuses_what_haproxy_cannot_do(haproxy: Path, servers: list[dict[str, Any]], message: str) -> None:
    result = module(haproxy, servers)
    assert result.get("failed") is True and message in result["msg"], result


def test_an_unreachable_admin_socket_is_named(tmp_path: Path) -> None:
    result = module(tmp_path / "missing.sock", [])
    assert result.get("failed") is True and f"HAProxy admin socket {tmp_path / 'missing.sock'}" in result["msg"]
