"""TCP servers that accept and then stall: one never answers, one trickles an HTTP answer a
byte at a time (each byte well within any socket timeout, the answer never complete)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a": "' + b"x" * 99990


def _serve(listener: socket.socket, trickle: bool, stop: threading.Event) -> None:
    held: list[socket.socket] = []
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        held.append(conn)
        if trickle:
            threading.Thread(target=_trickle, args=(conn, stop), daemon=True).start()
    for conn in held:
        conn.close()


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    try:
        conn.recv(65536)  # the request (enough of it)
        for byte in ANSWER:
            if stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.3)
    except OSError:
        return


@contextmanager
def stalling_url(trickle: bool = False) -> Iterator[str]:
    """`http://127.0.0.1:<port>` of a server that accepts every connection and never finishes
    an answer; closed when the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(listener, trickle, stop), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
