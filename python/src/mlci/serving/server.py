"""`mlci serve`: run the model server (the image's entry point) until SIGTERM, then drain.

Start-up order keeps time-to-ready short: the port opens at once (liveness answers), the model
loads in a thread, readiness follows the warm-up predict. On SIGTERM or SIGINT readiness turns
503 and every response says `Connection: close` for `drain_seconds` while requests are still
served; then the listener closes (connections the kernel had completed are accepted first) and
in-flight requests complete before the process exits 0.
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import struct
import threading
from types import FrameType

import uvicorn

from mlci import log
from mlci.errors import InputError
from mlci.serving.app import App
from mlci.serving.bounds import BoundedH11Protocol
from mlci.serving.settings import Settings

# The port closes after accepts found nothing this long, and at the latest after the second
# (below TCP's first SYN retry, 1 s) in which clients that keep connecting are not answered.
_BACKLOG_QUIET_SECONDS = 0.1
_BACKLOG_MAX_SECONDS = 0.8
_SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>
# Classic BPF on the listener: drop a TCP segment with SYN set and ACK clear (a new handshake);
# ACKs completing handshakes already answered pass. Offsets are from the TCP header.
_DROP_SYN = [
    (0x30, 0, 0, 13),  # A = the TCP flags byte
    (0x45, 0, 2, 0x02),  # SYN? else accept
    (0x45, 1, 0, 0x10),  # ACK as well? accept
    (0x06, 0, 0, 0),  # a new SYN: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # accept
]


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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._take_backlog()
        await super().shutdown(sockets)

    async def _take_backlog(self) -> None:
        """Stop the kernel completing new handshakes, accept what it already completed, then
        close the port.

        Closing a listener resets the connections in its queue and the handshakes still in
        flight (under load, loopback packets wait in the kernel for milliseconds), and their
        clients have already sent a request: under many clients that is tens of resets. So new
        SYNs are dropped first (their clients retry after a second and find the port closed),
        and the port closes once accepts have found nothing for a moment. (Not a listen queue of
        0: the kernel then drops the last ACK of handshakes the clients take as done.)"""
        loop = asyncio.get_running_loop()
        listeners = [ts.dup() for server in self.servers for ts in server.sockets]
        for sock in listeners:
            sock.setblocking(False)
            _drop_new_handshakes(sock)
        started = last = loop.time()
        while True:
            taken = [conn for sock in listeners for conn in _accept_all(sock)]
            now = loop.time()
            last = now if taken else last
            done = now - last >= _BACKLOG_QUIET_SECONDS or now - started >= _BACKLOG_MAX_SECONDS
            if done:  # straight after an accept that found none: no await between
                for server in self.servers:
                    server.close()
                for sock in listeners:
                    sock.close()
            for conn in taken:
                await loop.connect_accepted_socket(self._protocol, conn)
            if done:
                return
            await asyncio.sleep(0.01)

    def _protocol(self) -> asyncio.Protocol:
        # As uvicorn's own factory in Server.startup.
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _drop_new_handshakes(sock: socket.socket) -> None:
    code = b"".join(struct.pack("HBBI", *ins) for ins in _DROP_SYN)
    program = ctypes.create_string_buffer(code)
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, _SO_ATTACH_FILTER, struct.pack("HP", len(_DROP_SYN), ctypes.addressof(program))
        )
    except OSError as err:  # not Linux: the backlog is still taken, new clients may be reset
        log.warn(f"cannot stop new connections before closing the port: {err}")


def _accept_all(sock: socket.socket) -> list[socket.socket]:
    taken: list[socket.socket] = []
    while True:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return taken
        except OSError as err:
            log.warn(f"accepting a last connection before closing the port: {err}")
            return taken
        conn.setblocking(False)
        taken.append(conn)


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
