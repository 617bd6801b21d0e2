"""An HTTP proxy in front of a real MLflow server that breaks one chosen request: the Nth
request matching a method and path answers 503 (or never answers), every other one is
forwarded as is. It stands where a flaky network or load balancer would."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SET_ALIAS = ("POST", "/api/2.0/mlflow/registered-models/alias")


@dataclass
class Fault:
    method: str
    path: str
    nth: int  # 1-based; 0: no fault
    stall: bool = False  # never answer instead of 503
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, method: str, path: str) -> bool:
        if (method, path.split("?", 1)[0]) != (self.method, self.path):
            return False
        with self.lock:
            self.seen += 1
            return self.seen == self.nth


@contextmanager
def faulty_proxy(backend: str, fault: Fault) -> Iterator[str]:
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if fault.hits(self.command, self.path):
                if fault.stall:
                    stop.wait()
                    return
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            url = backend + self.path
            request = urllib.request.Request(url, data=body or None, method=self.command, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - the test's server
                    status, answer, kind = resp.status, resp.read(), resp.headers.get("Content-Type", "")
            except urllib.error.HTTPError as err:
                status, answer, kind = err.code, err.read(), err.headers.get("Content-Type", "")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_DELETE = do_PATCH = _forward

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        time.sleep(0.05)
        server.shutdown()
        server.server_close()
