"""A real `mlflow server` for the tests, behind a real nginx that asks for credentials.

The server gets its own sqlite database and artifact root (artifacts proxied through the
server, as in production) on a free port; nginx in front of it, on another free port,
accepts HTTP basic auth (MLFLOW_TRACKING_USERNAME/PASSWORD) or a bearer token
(MLFLOW_TRACKING_TOKEN) and answers 401 otherwise: the two ways MLflow's client
authenticates, checked on the wire. (MLflow's own `--app-name basic-auth` needs Flask-WTF,
which the locked environment does not have.) Both processes are stopped at teardown.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ports import free_port

BIN = Path(sys.executable).parent
START_TIMEOUT = 240  # a loaded 2-core CI agent has taken over 90 s

NGINX_CONF = """\
user {user};
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    access_log {root}/nginx-access.log;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    client_max_body_size 0;
    map $http_authorization $bearer_ok {{
        "Bearer {token}" 1;
        default 0;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            error_page 418 = @bearer;
            if ($bearer_ok) {{ return 418; }}
            auth_basic "mlflow";
            auth_basic_user_file {root}/htpasswd;
            proxy_pass http://127.0.0.1:{backend};
        }}
        location @bearer {{
            proxy_pass http://127.0.0.1:{backend};
        }}
    }}
}}
"""


@dataclass(frozen=True)
class MlflowServer:
    url: str  # through nginx: credentials required
    backend_url: str  # the server itself, for the tests' own assertions
    username: str
    password: str
    token: str
    root: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Client env with basic-auth credentials (what withCredentials binds)."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            **extra,
        }

    def token_env(self, token: str | None = None) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_TOKEN": token or self.token,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        }


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()  # noqa: S324 - nginx's format


def _wait(url: str, procs: list[subprocess.Popen[bytes]], logs: list[Path], expect: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local test server
                if response.status == expect:
                    return
        except urllib.error.HTTPError as err:
            if err.code == expect:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"{url} not ready after {START_TIMEOUT}s:\n" + "\n".join(log.read_text()[-2000:] for log in logs)
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Each process leads its own group (start_new_session): the server's web workers and
    # nginx's worker go with it, and nothing this fixture did not start is touched.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow-server")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # nginx started by root runs its worker as `user`: the one who owns these files.
    backend, port = free_port(), free_port()
    password, token = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    (root / "htpasswd").write_text(f"ci:{_ssha(password)}\n")
    (root / "nginx.conf").write_text(
        NGINX_CONF.format(root=root, port=port, backend=backend, token=token, user=getpass.getuser())
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    server_log, nginx_log = root / "server.log", root / "nginx.log"
    argv = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(backend), "--workers", "1",
    ]  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with server_log.open("wb") as out:
            procs.append(
                subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            )
        with nginx_log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        _wait(f"http://127.0.0.1:{backend}/health", procs, [server_log, nginx_log], 200)
        _wait(f"http://127.0.0.1:{port}/health", procs, [server_log, nginx_log], 401)
        yield MlflowServer(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{backend}", "ci", password, token, root)
    finally:
        for proc in reversed(procs):
            _stop(proc)
