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
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from steps.gatekit import config as gate_config
from steps.gatekit import make_project

from conftest import MLCI, run_in_terminal, write
from mlci import contracts

# Users are masked as well (the catalog masks every variable it binds); secrets carry the
# symbols whose encodings differ from the raw value.
URL_USER, URL_PASSWORD = "url-user", "url-Pa55&w/rd"
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
KEY = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}==\n-----END OPENSSH PRIVATE KEY-----\n"
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
    bad.add(KEY_BODY)
    return bad


class EchoingServer(http.server.BaseHTTPRequestHandler):
    """A broken MLflow (or Pushgateway) behind a proxy whose 500 page quotes the request."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        page = (
            f"<html><body><h1>500 Internal Server Error</h1><pre>{self.requestline}\n{self.headers}</pre></body></html>"
        )
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


def run_step(root: Path, env: Mapping[str, str | None], command: str, params: dict[str, Any]) -> Run:
    """`mlci COMMAND --params F --result R` in the workspace, as the Jenkins step runs it; a
    variable set to None in `env` is not bound."""
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    params_file, result_file = root / f"{command}.params.json", root / f"{command}.result.json"
    bound = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    full = {**bound, "PATH": f"{MLCI.parent}{os.pathsep}{os.environ['PATH']}"}
    full.pop("JENKINS_URL", None)
    # The broken server answers 500 at once: no retries with backoff (minutes) to get there.
    full |= {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}
    params = dict(params)
    full["MLFLOW_TRACKING_URI"] = params.pop("_tracking", f"sqlite:///{root / STORE}")
    write(params_file, json.dumps(params))
    proc = subprocess.run(
        [str(MLCI), command, "--params", str(params_file), "--result", str(result_file)],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    written = {p for p in root.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns}
    texts = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(written | {params_file, result_file})
        if p.exists() and STORE not in str(p) and ".git/" not in str(p) and "artifacts/" not in str(p)
    }
    return Run(proc.returncode, proc.stdout + proc.stderr, texts)


def assert_masked(run: Run, env: dict[str, str]) -> None:
    bad = leaks(env)
    # The params file is the step's input: a URL param holds what the user wrote there, but no
    # bound credential may ever be in it.
    url_forms = forms(URL_PASSWORD) | forms(f"{URL_USER}:{URL_PASSWORD}")
    found = {
        (where, b)
        for where, text in [("stdout/stderr", run.out), *run.files.items()]
        for b in (bad - url_forms if where.endswith(".params.json") else bad)
        if b in text
    }
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
import os, runpy, sys
print("training with", os.environ["MLFLOW_TRACKING_PASSWORD"], os.environ["MLFLOW_TRACKING_URI"])
print("token", os.environ["MLFLOW_TRACKING_TOKEN"], file=sys.stderr)
if os.environ.get("TRAIN_FAIL"):
    sys.exit("training failed; the token was " + os.environ["MLFLOW_TRACKING_TOKEN"])
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
BROKEN = "<the broken server>"
# The broken server's URL carries user info: MLflow's own credentials are left unbound, as
# mlci refuses a URL and bound variables that both give credentials.
URL_ONLY: dict[str, str | None] = {"MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_PASSWORD": None}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The churn project with a data suite, a drift reference, a training command that prints
    credentials, a suite and data whose categories include a password."""
    import pandas as pd

    from mlci.data import suggest
    from mlci.drift import reference

    root = make_project(tmp_path_factory.mktemp("secrets") / "ws")
    env = bound_credentials(root)
    write(root / "tests" / "test_model.py", "def test_ok():\n    assert True\n")
    write(root / "print_and_train.py", TRAIN_PRINTS)
    train = pd.read_csv(root / "data" / "train.csv")
    write(root / "suite.json", json.dumps(suggest.suggest(train, "churn", "data/train.csv")))
    reference.save(reference.compute(train.drop(columns=["churned"])), root / "ref.json")
    leaky = pd.read_csv(root / "data" / "holdout.csv")
    leaky.loc[:20, "region"] = env["MLFLOW_TRACKING_PASSWORD"]
    leaky.to_csv(root / "data" / "leaky.csv", index=False)
    text = gate_config("churn").replace(
        "  holdout: data/holdout.csv\n", "  holdout: data/holdout.csv\n  suite: suite.json\n"
    )
    # One on-prem target whose only host refuses SSH: deploy and rollback reach Ansible and fail.
    write(root / "inventory.yml", "model_servers:\n  hosts:\n    web1: {ansible_host: 127.0.0.1, ansible_port: 1}\n")
    target = "deploy:\n  - {name: stage, type: ansible, environment: staging, inventory: inventory.yml}\n"
    write(root / ".mlci.yml", text.replace(" train.py,", " print_and_train.py, train.py,") + target)
    yield root, env


RUN_ID = "0" * 32
IMAGE = "127.0.0.1:5000/churn@sha256:" + "0" * 64
# (command, params, extra environment, the exit codes the run may end with), in the order they
# run: passing runs build on each other (train, validate, register, promote) in one workspace.
Case = tuple[str, dict[str, Any], dict[str, str | None], set[int]]
CASES: list[Case] = [
    ("plan", {}, {}, {0}),
    ("test", {}, {}, {0}),
    ("data-validate", {}, {}, {0}),
    ("train", {}, {}, {0}),
    ("validate", {}, {}, {0}),
    ("register", {}, {}, {0}),
    ("promote", {}, {}, {0}),
    ("drift", {"reference": "ref.json", "current": "data/holdout.csv"}, {}, {0}),
    ("drift", {"reference": "ref.json", "current": "data/holdout.csv", "pushgatewayUrl": BROKEN}, {}, {3}),
    ("train", {}, {"TRAIN_FAIL": "1"}, {1}),
    ("data-validate", {"files": ["data/leaky.csv"]}, {}, {1}),
    ("drift", {"reference": "ref.json", "current": "data/leaky.csv"}, {}, {0, 1}),
    ("rollback-model", {}, {}, {1, 2}),
    ("train", {"trackingUri": BROKEN}, {}, {2}),
    ("train", {"trackingUri": BROKEN}, URL_ONLY, {3}),
    ("validate", {"trackingUri": BROKEN, "runId": RUN_ID}, URL_ONLY, {3}),
    ("register", {"trackingUri": BROKEN, "runId": RUN_ID}, URL_ONLY, {3}),
    ("promote", {"trackingUri": BROKEN}, URL_ONLY, {3}),
    ("rollback-model", {"trackingUri": BROKEN}, URL_ONLY, {3}),
    ("build", {"modelUri": "models:/churn/1", "push": False, "_tracking": BROKEN}, {}, {2, 3}),
    ("deploy", {"image": IMAGE}, {}, {3}),
    ("deploy", {"image": "not-pinned:1"}, {}, {2}),
    ("smoke", {"url": BROKEN}, {}, {1, 3}),
    ("rollback", {}, {}, {3}),
    ("monitor", {"prometheusUrl": BROKEN, "pushgatewayUrl": BROKEN, "jenkinsUrl": BROKEN}, {}, {2, 3}),
]


def _case_id(case: Case) -> str:
    command, params, extra, codes = case
    return f"{command}-{'pass' if codes == {0} else 'fail'}-{'-'.join(sorted([*params, *extra])) or 'default'}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_no_step_writes_or_prints_a_credential(
    case: Case,
    workspace: tuple[Path, dict[str, str]],
    broken_server: str,
) -> None:
    root, env = workspace
    command, params, extra, codes = case
    params = {k: (broken_server if v == BROKEN else v) for k, v in params.items()}
    run = run_step(root, {**env, **extra}, command, params)
    assert run.code in codes, f"{command} exited {run.code}:\n{run.out[-3000:]}"
    assert_masked(run, env)


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


def test_a_step_prints_no_progress_bar_or_library_warning_unless_verbose(
    workspace: tuple[Path, dict[str, str]],
) -> None:
    """mlflow's `Downloading artifacts: 100%|███` bars and warnings flood a Jenkins log."""
    root, env = workspace
    loud = run_step(root, env, "validate", {"verbose": True})
    quiet = run_step(root, env, "validate", {})
    assert loud.code == quiet.code and quiet.code in (0, 1), quiet.out  # the gate's verdict is not the point
    assert "Downloading artifacts" in loud.out  # what verbose shows, and the default must not
    assert "Downloading artifacts" not in quiet.out and "%|" not in quiet.out, quiet.out
    assert not [line for line in quiet.out.splitlines() if not line.startswith("mlci: ")], quiet.out


def test_mlci_run_stage_log_and_screen_are_masked(workspace: tuple[Path, dict[str, str]]) -> None:
    """In a terminal `mlci run` sends a stage's output to reports/run/<stage>.log, shown on failure."""
    root, env = workspace
    write(root / "tests" / "test_leaky.py", PRINTS_SECRETS)
    try:
        code, screen = run_in_terminal(["run", "--stage", "test"], root, env)
    finally:
        (root / "tests" / "test_leaky.py").unlink()
    stage_log = root / "reports" / "run" / "test.log"
    assert code == 1 and "****" in stage_log.read_text(encoding="utf-8"), screen
    files = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in [stage_log, root / "reports" / "run" / "test.result.json", root / "reports" / "test" / "junit.xml"]
    }
    assert_masked(Run(code, screen, files), env)
