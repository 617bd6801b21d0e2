"""How MLflow failures are named. The exceptions come from MLflow's own request code, so the
texts are the ones users see; the ports and run ids in them contain "401" and "403" on purpose
(one CI run called a refused connection to port 34019 an authentication failure)."""

from __future__ import annotations

import socket

import pytest
import requests

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
