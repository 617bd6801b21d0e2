"""No credential reaches a file or a log mlci writes: every step, run through the CLI as Jenkins
runs it, with every credential of the catalog bound in the environment and a password in the
service URLs, in passing and failing runs. Every file the run leaves in the workspace (params,
result, JUnit, HTML, Markdown, JSON reports, stage and child logs) and its stdout and stderr are
scanned for each secret, raw, base64- and URL-encoded, and for the Basic-auth header value."""

from __future__ import annotations

import base64
import html
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import MLCI, write
from steps.gatekit import make_project

from mlci import contracts

# Users are masked as well (the catalog masks every variable it binds); secrets carry the
# symbols whose encodings differ from the raw value.
URL_USER, URL_PASSWORD = "url-user", "url-Pa55&w/rd"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n"
STORE = ".mlci/mlflow.db"


def bound_credentials(root: Path) -> dict[str, str]:
    """A value for every variable of every credential type in the catalog."""
    env: dict[str, str] = {}
    for i, cred in enumerate(contracts.credential_catalog().values()):
        for role, var in cred.env.items():
            if cred.type == "file" or role == "keyFileVariable":
                path = root.parent / f"secret-file-{i}"
                path.write_text(KEY, encoding="utf-8")
                env[var] = str(path)
            else:
                env[var] = f"{role[:4]}{i}-S3cr&t/+{var.lower()}"
    env["MLCI_WEBHOOK_URL"] = "http://127.0.0.1:9/hook-Wh00k&s3cret"
    return env


def forms(value: str) -> set[str]:
    raw = value.encode()
    return {
        value,
        quote(value, safe=""),
        quote_plus(value),
        html.escape(value),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }


def leaks(env: dict[str, str]) -> set[str]:
    """Every string that must not appear: each secret's forms, Basic of each user:password."""
    bad: set[str] = set()
    for var, value in env.items():
        if var not in ("KUBECONFIG", "MLCI_SSH_KEY_FILE"):
            bad |= forms(value)
    for cred in contracts.credential_catalog().values():
        user, pw = cred.env.get("usernameVariable"), cred.env.get("passwordVariable")
        if user and pw:
            bad |= forms(f"{env[user]}:{env[pw]}")
    bad |= forms(URL_PASSWORD) | forms(f"{URL_USER}:{URL_PASSWORD}")
    bad.add("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")  # the private key's body
    return bad


class EchoingServer(http.server.BaseHTTPRequestHandler):
    """A broken MLflow (or Pushgateway) behind a proxy whose 500 page quotes the request."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        page = f"<html><body><h1>500 Internal Server Error</h1><pre>{self.requestline}\n{self.headers}</pre></body></html>"
        body = page.encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def broken_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{URL_USER}:{quote(URL_PASSWORD, safe='')}@127.0.0.1:{server.server_port}"
    server.shutdown()


@dataclass
class Run:
    code: int
    out: str
    files: dict[str, str]


def run_step(root: Path, env: dict[str, str], command: str, params: dict[str, Any]) -> Run:
    """`mlci COMMAND --params F --result R` in the workspace, as the Jenkins step runs it."""
    before = {p for p in root.rglob("*") if p.is_file()}
    params_file, result_file = root / f"{command}.params.json", root / f"{command}.result.json"
    write(params_file, json.dumps(params))
    full = {**os.environ, **env, "PATH": f"{MLCI.parent}{os.pathsep}{os.environ['PATH']}"}
    full.pop("JENKINS_URL", None)
    full["MLFLOW_TRACKING_URI"] = params.pop("_tracking", f"sqlite:///{root / STORE}")
    proc = subprocess.run(
        [str(MLCI), command, "--params", str(params_file), "--result", str(result_file)],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    written = {p for p in root.rglob("*") if p.is_file()} - before
    texts = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(written | {params_file, result_file})
        if p.exists() and STORE not in str(p) and ".git/" not in str(p) and "artifacts/" not in str(p)
    }
    return Run(proc.returncode, proc.stdout + proc.stderr, texts)


def assert_masked(run: Run, env: dict[str, str]) -> None:
    bad = leaks(env)
    found = {(where, b) for where, text in [("stdout/stderr", run.out), *run.files.items()] for b in bad if b in text}
    assert not found, f"secrets leaked (exit {run.code}): {sorted(found)}\n{run.out[-3000:]}"


PRINTS_SECRETS = """\
import base64, os
from urllib.parse import quote

def test_prints_every_credential():
    for name, value in sorted(os.environ.items()):
        print(name, value, quote(value, safe=""), base64.b64encode(value.encode()).decode())
    user, pw = os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
    print("Authorization: Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode())
    assert pw == "a failing test quotes it: " + pw[::-1], os.environ["MLCI_REGISTRY_PASSWORD"]
"""

TRAIN_PRINTS = """\
import os, sys
print("training with", os.environ["MLFLOW_TRACKING_PASSWORD"], os.environ["MLFLOW_TRACKING_URI"])
print("token", os.environ["MLFLOW_TRACKING_TOKEN"], file=sys.stderr)
sys.exit(int(os.environ.get("TRAIN_EXIT", "0")) or os.execv(sys.executable, [sys.executable, *sys.argv[1:]]))
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = make_project(tmp_path_factory.mktemp("secrets") / "ws")
    write(root / "tests" / "test_model.py", "def test_ok():\n    assert True\n")
    write(root / "print_and_train.py", TRAIN_PRINTS)
    env = bound_credentials(root)
    yield root, env


def test_failing_user_test_output_and_junit_are_masked(workspace: tuple[Path, dict[str, str]]) -> None:
    root, env = workspace
    write(root / "tests" / "test_leaky.py", PRINTS_SECRETS)
    try:
        run = run_step(root, env, "test", {"configFile": ".mlci.yml"})
    finally:
        (root / "tests" / "test_leaky.py").unlink()
    assert run.code == 1, run.out
    assert "reports/test/junit.xml" in run.files and "****" in run.files["reports/test/junit.xml"]
    assert_masked(run, env)
