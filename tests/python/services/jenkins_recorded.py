"""A Jenkins REST API stand-in for contract tests: no Jenkins server can be installed here, so
a local HTTP server replays responses recorded from real Jenkins (jenkins_responses/*.json,
each naming where its shape comes from) and records every request it gets."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

RESPONSES = Path(__file__).parent / "jenkins_responses"
USER, TOKEN = "retrain-bot", "11a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text())
    return data


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


@dataclass
class Jenkins:
    url: str
    jobs: set[str]
    requests: list[Request] = field(default_factory=list)
    next_item: int = 41

    def builds(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/buildWithParameters")]


def _handler(state: Jenkins) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, name: str, **fill: Any) -> None:
            rec = recorded(name)
            body = rec["body"].encode()
            self.send_response(rec["status"])
            for key, value in rec["headers"].items():
                if key != "Content-Length":
                    self.send_header(key, value.format(jenkins=state.url, **fill))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            state.requests.append(
                Request(self.command, split.path, urllib.parse.parse_qs(split.query), dict(self.headers), time.time())
            )
            expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._reply("unauthorized")
            if split.path == "/crumbIssuer/api/json":
                return self._reply("crumb")
            crumb = json.loads(recorded("crumb")["body"])
            if self.headers.get(crumb["crumbRequestField"]) != crumb["crumb"]:
                self.send_error(403, "No valid crumb was included in the request")
                return None
            job = split.path.removeprefix("/job/").removesuffix("/buildWithParameters").replace("/job/", "/")
            if self.command == "POST" and split.path.endswith("/buildWithParameters") and job in state.jobs:
                state.next_item += 1
                return self._reply("queued", item=state.next_item)
            return self._reply("job_not_found")

        do_GET = do_POST = _serve

    return Handler


@pytest.fixture
def jenkins_recorded() -> Iterator[Jenkins]:
    """Knows the job `retrain-churn` and the folder job `ml/retrain-demo`; wants USER/TOKEN and a crumb."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Jenkins(f"http://127.0.0.1:{server.server_address[1]}", {"retrain-churn", "ml/retrain-demo"})
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
