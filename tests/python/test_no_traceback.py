"""No traceback reaches a user: hostile or careless input through every kind of command is
exit 2 (bad input) or 3 (infrastructure) with a message naming the problem."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MINIMAL, write
from mlci.drift import reference

Mlci = Callable[..., subprocess.CompletedProcess[str]]
Setup = Callable[[Path, str], list[str]]  # (project, html server URL) -> mlci arguments


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    """What a login page or a misconfigured proxy answers: 200, an HTML page."""

    def _page(self) -> None:
        body = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _page

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def html_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _params(project: Path, params: dict[str, object], *command: str) -> list[str]:
    write(project / "params.json", json.dumps(params))
    return [*command, "--params", "params.json"]


def _config(project: Path, extra: str, *command: str) -> list[str]:
    write(project / ".mlci.yml", MINIMAL + extra)
    return list(command)


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.choice(["x", "y"], n)})


def non_utf8_config(project: Path, _: str) -> list[str]:
    (project / ".mlci.yml").write_bytes(MINIMAL.encode() + "# caf\xe9\n".encode("latin-1"))
    return ["plan"]


def non_utf8_csv(project: Path, _: str) -> list[str]:
    (project / "data.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    return ["data", "suggest", "data.csv", "--out", "suite.json"]


def duplicate_columns_suggest(project: Path, _: str) -> list[str]:
    write(project / "data.csv", "a,b,a\n1,2,3\n4,5,6\n")
    return ["data", "suggest", "data.csv", "--out", "suite.json"]


def duplicate_columns_drift(project: Path, _: str) -> list[str]:
    reference.save(reference.compute(_frame()), project / "ref.json")
    write(project / "current.csv", "a,b,a\n1,x,3\n4,y,6\n")
    return _params(project, {"reference": "ref.json", "current": "current.csv"}, "drift")


def inf_values_suggest(project: Path, _: str) -> list[str]:
    write(project / "data.csv", "a,b\n1,2\ninf,5\n")
    return ["data", "suggest", "data.csv", "--out", "suite.json"]


def result_is_a_directory(project: Path, _: str) -> list[str]:
    (project / "out").mkdir()
    return ["plan", "--result", "out"]


def result_under_a_file(project: Path, _: str) -> list[str]:
    write(project / "out", "a file\n")
    return ["plan", "--result", "out/result.json"]


def result_unwritable(project: Path, _: str) -> list[str]:
    return ["plan", "--result", "/sys/mlci-result.json"]  # sysfs refuses new files, even to root


def html_instead_of_mlflow(project: Path, url: str) -> list[str]:
    return _params(project, {"trackingUri": url, "version": "1"}, "promote")


def corrupt_build_record(project: Path, _: str) -> list[str]:
    write(project / "reports" / "build" / "image.json", '{"reference": ')
    return _config(project, "deploy:\n  - {name: staging, type: ansible, environment: staging}\n", "deploy")


def non_utf8_holdout_smoke(project: Path, _: str) -> list[str]:
    (project / "holdout.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    target = "deploy:\n  - {name: staging, type: ansible, environment: staging, url: 'http://127.0.0.1:9'}\n"
    return _config(project, "data:\n  holdout: holdout.csv\n" + target, "smoke")


CASES: dict[str, tuple[Setup, int, str]] = {
    "non-UTF-8 .mlci.yml": (non_utf8_config, 2, ".mlci.yml:7: not UTF-8 text (byte 0xe9)"),
    "non-UTF-8 CSV": (non_utf8_csv, 2, "data.csv: column 'b' is not UTF-8 text (data row 1)"),
    "non-UTF-8 holdout (smoke)": (non_utf8_holdout_smoke, 2, "data.holdout: holdout.csv is unreadable"),
    "NUL byte in configFile": (
        lambda p, _: _params(p, {"configFile": "a\x00b.yml"}, "plan"),
        2,
        "a\\x00b.yml: not a file name: it holds a NUL byte",
    ),
    "over-long configFile": (lambda p, _: _params(p, {"configFile": "c" * 5000}, "plan"), 2, "File name too long"),
    "duplicate columns (data suggest)": (duplicate_columns_suggest, 2, "data.csv: repeated column name 'a'"),
    "duplicate columns (drift)": (duplicate_columns_drift, 2, "current.csv: repeated column name 'a'"),
    "inf values (data suggest)": (inf_values_suggest, 2, "data.csv: column 'a' holds inf (data row 2)"),
    "model version abc": (
        lambda p, _: _params(p, {"version": "abc"}, "promote"),
        2,
        "params.json version: expected a model version number such as 3, got 'abc'",
    ),
    "run id ../../etc": (
        lambda p, _: _params(p, {"runId": "../../etc"}, "validate"),
        2,
        "params.json runId: expected an MLflow run id (letters, digits, _ and -), got '../../etc'",
    ),
    "result path is a directory": (result_is_a_directory, 2, "--result out: is a directory"),
    "result path under a file": (result_under_a_file, 2, "--result out/result.json: a part of the path is a file"),
    "result path unwritable": (result_unwritable, 2, "--result /sys/mlci-result.json: cannot write there"),
    "MLflow answering 200 with HTML (REST)": (html_instead_of_mlflow, 3, "answered with text/html, not MLflow's JSON"),
    "MLflow answering 200 with HTML (client)": (
        lambda p, url: _params(p, {"trackingUri": url, "runId": "abc123"}, "register"),
        3,
        "MLflow at http://127.0.0.1:",  # names the server; the wording is the tracking module's
    ),
    "corrupt reports/build/image.json": (corrupt_build_record, 2, "image.json:1 invalid JSON: Expecting value"),
    "NaN threshold": (
        lambda p, _: _config(p, "validate:\n  thresholds: {accuracy: {threshold: .nan}}\n", "plan"),
        2,
        ".mlci.yml:8 validate.thresholds.accuracy.threshold: input should be a finite number, got nan",
    ),
    "infinite timeout": (
        lambda p, _: _config(p, "training:\n  timeout_minutes: .inf\n", "config", "show"),
        2,
        ".mlci.yml:8 training.timeout_minutes: input should be a finite number, got inf",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_a_message_and_an_exit_code_never_a_traceback(
    mlci: Mlci, project: Path, html_server: str, case: str
) -> None:
    setup, code, message = CASES[case]
    proc = mlci(*setup(project, html_server))
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    assert proc.returncode == code, output
    assert message in output
