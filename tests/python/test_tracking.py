"""How MLflow failures are named. The exceptions come from MLflow's own request code, so the
texts are the ones users see; the ports and run ids in them contain "401" and "403" on purpose
(one CI run called a refused connection to port 34019 an authentication failure)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from services.stalling import stalling_url

from conftest import MLCI, write
from mlci import tracking


def mlflow_error(status: int, url: str = "http://127.0.0.1:34019") -> Exception:
    from mlflow.utils.rest_utils import verify_rest_response

    response = requests.Response()
    response.status_code = status
    response._content = b"<html>nope</html>"
    response.url = url
    try:
        verify_rest_response(response, "/api/2.0/mlflow/runs/get?run_id=40340140")
    except Exception as err:
        return err
    raise AssertionError("verify_rest_response accepted an error status")


def test_refused_connection_on_a_port_containing_401_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        creds = MlflowHostCreds(f"http://127.0.0.1:{port}")
        with pytest.raises(Exception) as caught:
            http_request(creds, "/api/2.0/mlflow/runs/get?run_id=40140340", "GET")
    assert tracking.reason(caught.value).startswith("unreachable (connection failed)")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "authentication failed (HTTP 401)"),
        (403, "permission denied (HTTP 403)"),
        (503, "server error (HTTP 503)"),
    ],
)
def test_an_answered_status_is_named_by_its_code(status: int, expected: str) -> None:
    assert tracking.reason(mlflow_error(status)).startswith(expected)


def test_a_status_not_about_access_keeps_mlflows_text() -> None:
    text = tracking.reason(mlflow_error(404))
    assert "error code 404" in text and "authentication" not in text and "unreachable" not in text


def test_requests_status_errors_and_retry_exhaustion_are_read() -> None:
    assert tracking.http_status(Exception(), "401 Client Error: Unauthorized for url: http://h:40301/x") == 401
    assert (
        tracking.http_status(Exception(), "Max retries exceeded (Caused by ResponseError('too many 502 error')") == 502
    )
    assert tracking.http_status(Exception(), "HTTPConnectionPool(host='h', port=40301): run 403401 failed") is None


def test_a_long_unknown_failure_is_cut_to_300_characters() -> None:
    assert len(tracking.reason(RuntimeError("x" * 1000))) == 300


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "trickling"])
@pytest.mark.parametrize("command", ["build", "promote", "rollback-model", "register"])
def test_a_server_that_never_finishes_answering_is_exit_3_within_the_deadline(
    command: str, trickle: bool, tmp_path: Path
) -> None:
    write(
        tmp_path / ".mlci.yml",
        """\
        version: 1
        model: {name: demo, task: classification}
        mlflow: {timeout_seconds: 1}
        image: {registry: 127.0.0.1:5000}
        """,
    )
    params = {"runId": "0" * 32} if command == "register" else {}
    (tmp_path / "params.json").write_text(json.dumps(params))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with stalling_url(trickle) as url:
        started = time.monotonic()
        proc = subprocess.run(
            [str(MLCI), command, "--params", "params.json", "--result", "result.json"],
            cwd=tmp_path,
            env={**env, "MLFLOW_TRACKING_URI": url},
            capture_output=True,
            text=True,
            timeout=90,
        )
        seconds = time.monotonic() - started
    result = json.loads((tmp_path / "result.json").read_text())
    assert proc.returncode == 3, proc.stderr
    assert result["service"] == f"MLflow at {url}"
    # 1 s a request, 2 retries, backoff: the deadline is 1 * 3 + 4 = 7 s (plus mlci's start-up).
    assert "no complete answer within 7 s" in result["summary"] or "no answer within 1 s" in result["summary"]
    assert seconds < 40, f"{command} took {seconds:.0f} s against a stalled server"
    assert "Traceback" not in proc.stderr
