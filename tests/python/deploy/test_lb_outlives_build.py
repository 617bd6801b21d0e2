"""The HAProxy that the mlci_lb role starts outlives the build that ran the role.

When `node {}` ends, Jenkins kills what the build left behind: the step's process tree and every
process whose environment carries the build's cookie (JENKINS_NODE_COOKIE for Pipeline, BUILD_ID
for freestyle jobs). The test runs the role the way a Jenkins `sh` step does (its own session,
the cookies in the environment), then does what Jenkins' process killer does, and more (the whole
session too), and checks HAProxy still serves through the same master."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from services.ports import free_port

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"backend says hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        found.update(children)
        todo.extend(children)
    return found


def _with_cookie(*models: dict[str, str]) -> set[int]:
    """Processes whose environment has every variable of one of the models (Jenkins' match)."""
    wanted = [{f"{k}={v}".encode() for k, v in model.items()} for model in models]
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = set((entry / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if any(model <= environ for model in wanted):
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed daemon's parent may never reap it)."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _in_session(sid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                found.add(int(entry.name))
    return found


def _kill(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        return str(answer.read().decode())


def test_haproxy_outlives_the_build_that_started_it(backend: int, tmp_path: Path) -> None:
    # A short directory: HAProxy's admin socket path has at most 107 bytes.
    lb_dir = Path(tempfile.mkdtemp(prefix="mlci-lb-", dir="/tmp"))
    lb_port = free_port()
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {
                "load_balancers": {
                    "hosts": {"lb": {"mlci_lb_dir": str(lb_dir), "mlci_lb_port": lb_port, "mlci_lb_install": False,
                                     "mlci_lb_bind_address": "127.0.0.1", "mlci_lb_service": "survivor"}},
                },
                "model_servers": {
                    "hosts": {"m1": {"ansible_host": "127.0.0.1", "mlci_server_slots": {"a": backend}}},
                },
            },
        }
    }  # fmt: skip
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "lb.yml").write_text(
        yaml.safe_dump([{"name": "Load balancers", "hosts": "load_balancers", "gather_facts": False,
                         "roles": [{"role": "mlci_lb"}]}])
    )  # fmt: skip
    # What Jenkins' killer matches: a Pipeline step's cookie, and a freestyle build's variables.
    pipeline = {"JENKINS_NODE_COOKIE": str(uuid.uuid4())}
    freestyle = {"JENKINS_SERVER_COOKIE": "c0ffee", "JOB_NAME": "deploy", "BUILD_NUMBER": "4711", "BUILD_ID": "4711"}
    env = {**os.environ, **pipeline, **freestyle, "ANSIBLE_ROLES_PATH": str(REPO / "ansible" / "roles")}
    try:
        # Like a Jenkins `sh` step: a shell in a session of its own, the cookies in its environment.
        step = subprocess.Popen(
            ["sh", "-c", '"$0" -i "$1" "$2"', str(PLAYBOOK), str(tmp_path / "inventory.yml"), str(tmp_path / "lb.yml")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        out, _ = step.communicate(timeout=300)
        assert step.returncode == 0, out[-3000:]
        master = int((lb_dir / "haproxy.pid").read_text().split()[0])
        _admin(lb_dir, "set server survivor/m1_a state ready")
        _wait_serving(lb_port)

        # What Jenkins does when the build ends, and the step's whole session besides.
        _kill(_descendants(step.pid) | _in_session(step.pid) | _with_cookie(pipeline, freestyle))
        time.sleep(1)

        assert _alive(master), "HAProxy's master was killed with the build"
        assert _get(lb_port) == "backend says hello\n"
        assert "m1_a" in _admin(lb_dir, "show servers state survivor")  # and its admin socket answers
    finally:
        pid_file = lb_dir / "haproxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        shutil.rmtree(lb_dir, ignore_errors=True)


def _admin(lb_dir: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(lb_dir / "admin.sock"))
        conn.sendall(command.encode() + b"\n")
        return b"".join(iter(lambda: conn.recv(65536), b"")).decode()


def _wait_serving(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if _get(port) == "backend says hello\n":
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)
