"""The ASGI application: MLflow's scoring protocol, probes and metrics on one port.

A bare ASGI callable rather than a web framework: per-request overhead is what decides
throughput for small models, and the routes are few and fixed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mlci import log
from mlci.serving import model as model_mod
from mlci.serving.batcher import Batcher
from mlci.serving.bounds import ByteBudget, Hold
from mlci.serving.capture import Capture
from mlci.serving.metrics import Metrics
from mlci.serving.payload import BadRequest, conform, parse
from mlci.serving.settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
READY_PATHS = ("/ping", "/health", "/readyz")
KNOWN_PATHS = {"/invocations", "/livez", "/version", "/metrics", *READY_PATHS}


class Response(Exception):
    def __init__(
        self, status: int, body: bytes, content_type: bytes = JSON, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


def error(status: int, code: str, message: str, *headers: tuple[bytes, bytes]) -> Response:
    return Response(status, json.dumps({"error_code": code, "message": message}).encode(), headers=headers)


# The body was not read to its end: the connection cannot carry another request.
CLOSE = (b"connection", b"close")


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.model: model_mod.ServedModel | None = None
        self.batcher: Batcher | None = None
        self.capture = (
            Capture(settings.capture_dir, settings.capture_rate)
            if settings.capture_dir and settings.capture_rate > 0
            else None
        )
        self.warmed = False
        self.draining = False
        self.load_error: str | None = None
        self.exit_code = 3
        self.loaded = threading.Event()  # set when loading ended, well or not
        self.budget = ByteBudget(settings.max_inflight_bytes)
        self.mlflow_version = _mlflow_version()

    # ------------------------------------------------------------ loading

    def load(self) -> None:
        """Load the model, then predict its input example once: ready only after that works."""
        started = time.monotonic()
        try:
            s = self.settings
            served = model_mod.load(s.model_dir, s.name, s.version, s.run_id)
            accepts_params = served.loader == "pyfunc"
            self.batcher = Batcher(served.predict, s.max_batch_rows, self.metrics, accepts_params)
            self.model = served
            self.metrics.model.info({"name": served.name, "version": served.version, "run_id": served.run_id})
            loaded = time.monotonic() - started
            if served.example is not None:
                parsed = parse(json.dumps(served.example).encode(), "application/json", served.columns)
                served.predict(conform(parsed.frame, served.columns))
            else:
                log.warn(f"{s.model_dir}: no input example saved with the model; ready without a warm-up predict")
            self.warmed = True
            self.metrics.ready.set(1 if self.ready else 0)
            log.info(
                f"model {served.name} {served.version or '(no version)'} loaded ({served.loader}) in {loaded:.2f} s, "
                f"ready in {time.monotonic() - started:.2f} s"
            )
        except Exception as err:
            self.exit_code = getattr(err, "exit_code", 3)
            self.load_error = f"{type(err).__name__}: {err}"
            log.error(f"cannot serve the model in {self.settings.model_dir}: {self.load_error}")
        finally:
            self.loaded.set()

    @property
    def ready(self) -> bool:
        return self.warmed and not self.draining

    def drain(self) -> None:
        self.draining = True
        self.metrics.ready.set(0)

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        path = scope["path"]
        try:
            status, body, content_type = 200, b"", TEXT
            extra: tuple[tuple[bytes, bytes], ...] = ()
            try:
                status, body, content_type = await self._route(scope, receive, path)
            except Response as resp:
                status, body, content_type, extra = resp.status, resp.body, resp.content_type, resp.headers
            except Exception as err:
                log.error(f"{path}: unexpected {type(err).__name__}: {err}")
                crash = error(500, "INTERNAL_ERROR", f"unexpected {type(err).__name__} in the server; see its log")
                status, body, content_type = crash.status, crash.body, crash.content_type
            headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
            if self.draining and CLOSE not in headers:
                # Move clients off this connection before it closes: no request races the close.
                headers.append(CLOSE)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            label = path if path in KNOWN_PATHS else "other"
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)

    async def _route(self, scope: Scope, receive: Receive, path: str) -> tuple[int, bytes, bytes]:
        method = scope["method"]
        if path == "/invocations":
            if method != "POST":
                raise error(405, "METHOD_NOT_ALLOWED", "POST a JSON or CSV body to /invocations")
            return 200, await self._invocations(scope, receive), JSON
        if path not in KNOWN_PATHS:
            raise error(404, "NOT_FOUND", f"no route {path}; try /invocations, /ping, /health, /version, /metrics")
        if method not in ("GET", "HEAD"):
            raise error(405, "METHOD_NOT_ALLOWED", f"{path} answers GET")
        if path == "/livez":
            return 200, b"ok\n", TEXT
        if path in READY_PATHS:
            if self.ready:
                return 200, b"\n" if path != "/readyz" else b"ready\n", TEXT
            state = "draining" if self.draining else ("load failed" if self.load_error else "loading the model")
            raise Response(503, f"not ready: {state}\n".encode(), TEXT)
        if path == "/version":
            return 200, self.mlflow_version.encode(), TEXT
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return 200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST.encode()

    async def _read_body(self, scope: Scope, receive: Receive, hold: Hold) -> bytes:
        """The whole body, held in the budget; 413, 503 SERVER_BUSY or 408 otherwise."""
        limit = self.settings.max_body_bytes
        too_big = error(
            413, "REQUEST_TOO_LARGE", f"request body over the limit of {limit} bytes (--max-body-bytes)", CLOSE
        )
        declared = next((int(v) for n, v in scope["headers"] if n == b"content-length" and v.isdigit()), 0)
        if declared > limit:
            raise too_big
        deadline = time.monotonic() + self.settings.read_timeout_seconds
        busy = not hold.grow(declared)
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                raise error(
                    408,
                    "REQUEST_TIMEOUT",
                    f"the request body took longer than {self.settings.read_timeout_seconds:g} s (--read-timeout)",
                    CLOSE,
                ) from None
            if message["type"] == "http.disconnect":
                raise error(400, "BAD_REQUEST", "client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            busy = busy or not hold.grow(size)
            if not busy:  # a refused body is read and dropped: the client reads the 503, not a reset
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if busy:
            raise error(
                503,
                "SERVER_BUSY",
                f"request bodies in progress are at the limit of {self.budget.limit} bytes (--max-inflight-bytes); "
                "retry",
                (b"retry-after", b"1"),
            )
        return b"".join(chunks)

    async def _invocations(self, scope: Scope, receive: Receive) -> bytes:
        # While draining, requests still in the pipe are served: the load balancer is moving away.
        served, batcher = self.model, self.batcher
        if not self.warmed or served is None or batcher is None:
            raise error(503, "NOT_READY", "the model is not loaded yet; retry when /health answers 200")
        hold = self.budget.hold()
        try:
            return await self._predict(scope, receive, served, batcher, hold)
        finally:
            hold.release()

    async def _predict(
        self, scope: Scope, receive: Receive, served: model_mod.ServedModel, batcher: Batcher, hold: Hold
    ) -> bytes:
        body = await self._read_body(scope, receive, hold)
        content_type = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"content-type"), "")
        try:
            parsed = parse(body, content_type, served.columns)
            frame = conform(parsed.frame, served.columns)
        except BadRequest as err:
            raise error(err.status, err.code, str(err)) from None
        except RecursionError:
            raise error(400, "BAD_REQUEST", "the input is nested too deeply") from None
        except Exception as err:
            # Only the body differs between requests: an input pandas cannot take is the client's
            # fault, and a 500 would count against the error-rate SLO and fail a canary.
            log.warn(f"/invocations: input not readable: {type(err).__name__}: {err}")
            raise error(400, "BAD_REQUEST", f"cannot read the input: {type(err).__name__}: {_short(err)}") from None
        self.metrics.rows.observe(len(frame))
        if self.capture is not None and self.capture.sampled():
            self._capture(frame)
        future = batcher.submit(frame, parsed.params)
        try:
            preds = await asyncio.wait_for(asyncio.shield(future), self.settings.timeout_seconds)
        except TimeoutError:
            raise error(
                503, "TIMEOUT", f"the prediction took longer than {self.settings.timeout_seconds:g} s (--timeout)"
            ) from None
        except Exception as err:
            raise _model_error(err) from None
        self.metrics.predictions(preds)
        return json.dumps({"predictions": preds}).encode()

    def _capture(self, frame: Any) -> None:
        capture = self.capture
        if capture is None:
            return

        def write() -> None:
            try:
                self.metrics.captured.inc(capture.write(frame))
            except OSError as err:
                log.warn(f"capture to {capture.folder} failed: {err}")

        asyncio.get_running_loop().run_in_executor(None, write)


def _model_error(err: Exception) -> Response:
    code = getattr(err, "error_code", "")
    if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST") or isinstance(err, ValueError | TypeError | KeyError):
        return error(400, "BAD_REQUEST", f"the model rejected the input: {type(err).__name__}: {err}")
    log.error(f"predict failed: {type(err).__name__}: {err}")
    return error(500, "PREDICT_FAILED", f"the model failed: {type(err).__name__}: {err}")


def _short(err: Exception, limit: int = 200) -> str:
    text = str(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mlflow_version() -> str:
    from importlib import metadata

    for dist in ("mlflow", "mlflow-skinny"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"
