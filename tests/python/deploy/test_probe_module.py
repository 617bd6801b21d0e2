"""The mlci_server role's mlci_probe module on its own, run as Ansible runs a module, against
small HTTP servers in the test: readiness (and how long), the smoke request's checks (status,
one prediction per row, the expected values), the burst's counts beside a baseline, and a slot
that never gets ready."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from services.ansible_local import run_module

MODULE = Path(__file__).resolve().parents[3] / "ansible" / "roles" / "mlci_server" / "library" / "mlci_probe.py"
PAYLOAD = {"dataframe_split": {"columns": ["x"], "data": [[1], [2], [3]]}}


class Slot(http.server.BaseHTTPRequestHandler):
    """A model server: ready after `ready_after` readiness polls; answers by `mode`."""

    protocol_version = "HTTP/1.1"
    mode = "good"
    ready_after = 0
    polls = 0

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        type(self).polls += 1
        ready = self.mode != "never" and type(self).polls > self.ready_after
        self._send(200 if ready else 503, {"ready": ready})

    def do_POST(self) -> None:
        rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["dataframe_split"]["data"]
        if self.mode == "errors":
            self._send(500, {"error_code": "MODEL_ERROR"})
        elif self.mode == "short":
            self._send(200, {"predictions": [0] * (len(rows) - 1)})
        else:
            offset = 1 if self.mode == "wrong" else 0
            self._send(200, {"predictions": [r[0] * 2 + offset for r in rows]})

    def log_message(self, *args: Any) -> None:
        pass


def serve(mode: str, ready_after: int = 0) -> Iterator[str]:
    handler = type("Handler", (Slot,), {"mode": mode, "ready_after": ready_after, "polls": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def slot(request: pytest.FixtureRequest) -> Iterator[str]:
    mode, ready_after = request.param
    yield from serve(mode, ready_after)


@pytest.fixture
def baseline() -> Iterator[str]:
    yield from serve("good")


def probe(url: str, **extra: Any) -> dict[str, Any]:
    args = {"url": url, "payload": PAYLOAD, "expected": [2, 4, 6], "requests": 40, "warmup": 4, **extra}
    return run_module(MODULE, args)


@pytest.mark.parametrize("slot", [("good", 3)], indirect=True)
def test_a_good_slot_is_ready_smokes_clean_and_bursts_beside_its_baseline(slot: str, baseline: str) -> None:
    result = probe(slot, baseline_url=baseline)
    assert result["ready"] is True and result["message"] == "ready" and result["ready_seconds"] >= 0.5, result
    assert result["smoke"]["status"] == 200 and result["smoke"]["rows"] == 3 and result["smoke"]["problems"] == []
    for burst in (result["burst"], result["baseline_burst"]):
        assert burst["requests"] == 40 and burst["errors"] == 0 and burst["statuses"] == {"200": 40}, burst
        assert burst["p50_ms"] is not None and burst["p99_ms"] >= burst["p50_ms"]


@pytest.mark.parametrize(
    ("slot", "problem"),
    [
        (("errors", 0), "/invocations answered 500"),
        (("short", 0), "2 predictions for 3 rows"),
        (("wrong", 0), "3 of 3 predictions differ from the expected ones (first at row 0)"),
    ],
    indirect=["slot"],
)
def test_a_bad_answer_fails_the_smoke_and_skips_the_burst(slot: str, problem: str) -> None:
    result = probe(slot)
    assert result["ready"] is True
    assert any(problem in p for p in result["smoke"]["problems"]), result["smoke"]
    assert "burst" not in result


@pytest.mark.parametrize("slot", [("never", 0)], indirect=True)
def test_a_slot_that_never_gets_ready_says_what_it_answered(slot: str) -> None:
    result = probe(slot, ready_timeout=1.5)
    assert result["ready"] is False and "smoke" not in result
    assert result["message"].startswith("not ready after 1.5 s: /readyz answered 503"), result["message"]
