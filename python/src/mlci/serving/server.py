"""`mlci serve`: run the model server (the image's entry point) until SIGTERM, then drain.

Start-up order keeps time-to-ready short: the port opens at once (liveness answers), the model
loads in a thread, readiness follows the warm-up predict. On SIGTERM or SIGINT readiness turns
503 and every response says `Connection: close` for `drain_seconds` while requests are still
served; then the listener closes and in-flight requests complete before the process exits 0.
"""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn

from mlci import log
from mlci.errors import InputError
from mlci.serving.app import App
from mlci.serving.bounds import BoundedH11Protocol
from mlci.serving.settings import Settings


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: App) -> None:
        super().__init__(config)
        self.mlci_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.mlci_app.draining:  # a second signal: stop draining, close now
            self.should_exit = True
            return
        drain = self.mlci_app.settings.drain_seconds
        log.info(f"signal {sig}: draining for {drain:g} s, then finishing in-flight requests")
        self.mlci_app.drain()
        timer = threading.Timer(drain, self._stop)
        timer.daemon = True
        timer.start()

    def _stop(self) -> None:
        self.should_exit = True


def _watch_load(app: App, server: DrainingServer) -> None:
    app.load()
    if app.load_error is not None:
        server.should_exit = True


def serve(settings: Settings) -> int:
    if not (settings.model_dir / "MLmodel").is_file():
        raise InputError(f"{settings.model_dir}: no MLmodel file; --model-dir must be an MLflow model directory")
    if not 0 <= settings.capture_rate <= 1:
        raise InputError(f"--capture-rate: expected a share between 0 and 1, got {settings.capture_rate}")
    if settings.max_inflight_bytes <= 0:
        raise InputError(f"--max-inflight-bytes: expected a positive size in bytes, got {settings.max_inflight_bytes}")
    if not 0 < settings.read_timeout_seconds < float("inf"):
        raise InputError(f"--read-timeout: expected positive seconds, got {settings.read_timeout_seconds}")
    app = App(settings)
    protocol = type("Protocol", (BoundedH11Protocol,), {"read_timeout": settings.read_timeout_seconds})
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol,
        loop="asyncio",
        lifespan="off",
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_keep_alive=5,
        # In-flight requests get their full timeout to complete after the listener closes.
        timeout_graceful_shutdown=int(settings.timeout_seconds) + 1,
    )
    server = DrainingServer(config, app)
    threading.Thread(target=_watch_load, args=(app, server), name="load-model", daemon=True).start()
    log.info(f"serving {settings.model_dir} on http://{settings.host}:{settings.port}")
    server.run()
    if app.load_error is not None:
        return app.exit_code
    log.info("stopped")
    return 0
