"""Credentials in service URLs: taken out before any request and sent as basic auth, to a real
local server that records what it got. The URLs point at 127.0.0.1: a request that succeeds
reached it, so nothing resolved `user:password@127.0.0.1` as a host name."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from services.stalling import stalling_url

from mlci import urls
from mlci.errors import InputError

USER, PASSWORD = "bob", "s3cr@t:pw"  # percent-encoded in the URL
USERINFO = "bob:s3cr%40t%3Apw"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]]

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/api/v1/query"):
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()
            self.send_response(200)
        elif "buildWithParameters" in self.path:
            body = b""
            self.send_response(201)
            self.send_header("Location", f"http://{self.headers['Host']}/queue/item/7/")
        elif self.path.startswith("/metrics/"):
            body = b""
            self.send_response(200)
        else:
            body = b"not here"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def recorder() -> Iterator[tuple[str, list[tuple[str, str, str | None]]]]:
    seen: list[tuple[str, str, str | None]] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{USERINFO}@127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_split_takes_the_user_info_out_and_decodes_it() -> None:
    found = urls.split(f"https://{USERINFO}@mlflow.example.invalid:8443/base?x=1", "k")
    assert found.url == "https://mlflow.example.invalid:8443/base?x=1"
    assert found.credentials == urls.Credentials(USER, PASSWORD)
    assert PASSWORD not in repr(found)
    assert urls.split("sqlite:///a@b.db", "k") == urls.ServiceUrl("sqlite:///a@b.db")


@pytest.mark.parametrize("url", ["http://bob@127.0.0.1:1", "http://:pw@127.0.0.1:1", "http://bob:@127.0.0.1:1"])
def test_user_info_that_is_not_user_and_password_is_refused_naming_the_key(url: str) -> None:
    with pytest.raises(InputError) as caught:
        urls.split(url, "monitoring.pushgateway_url")
    assert str(caught.value).startswith("monitoring.pushgateway_url: the URL's user info must be user:password")


def test_pushgateway_prometheus_and_jenkins_send_url_credentials_as_basic_auth() -> None:
    from prometheus_client import CollectorRegistry, Gauge

    from mlci.monitoring import jenkins, prometheus, pushgateway

    with recorder() as (url, seen):
        registry = CollectorRegistry()
        Gauge("g", "a gauge", registry=registry).set(1)
        pushgateway.push(url, "job", registry, {"model": "m"}, 5)
        assert prometheus.query(url, "up") == []
        queued = jenkins.trigger(url, "retrain", {"REASON": "drift"})
    assert queued.queue_item == 7
    by_kind = {
        "pushgateway": [a for m, p, a in seen if p.startswith("/metrics/")],
        "prometheus": [a for m, p, a in seen if p.startswith("/api/v1/query")],
        "jenkins": [a for m, p, a in seen if "buildWithParameters" in p],
    }
    assert by_kind == {"pushgateway": [BASIC], "prometheus": [BASIC], "jenkins": [BASIC]}


def test_a_trickling_prometheus_pushgateway_or_jenkins_fails_within_twice_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry

    from mlci.errors import InfrastructureError
    from mlci.monitoring import jenkins, prometheus, pushgateway

    monkeypatch.setattr(prometheus, "TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(jenkins, "TIMEOUT_SECONDS", 1)
    with stalling_url(trickle=True) as url:
        started = time.monotonic()
        with pytest.raises(InfrastructureError, match="no complete answer within 2 s"):
            prometheus.query(url, "up")
        with pytest.raises(TimeoutError, match="no complete answer within 2 s"):
            pushgateway.push(url, "job", CollectorRegistry(), {"model": "m"}, 1)
        with pytest.raises(InfrastructureError, match="no complete answer within 2 s"):
            jenkins.trigger(url, "retrain", {"REASON": "drift"})
        assert time.monotonic() - started < 15
