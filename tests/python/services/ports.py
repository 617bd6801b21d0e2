"""Ports for test services, and URLs that are certain to refuse connections."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def refused_url() -> Iterator[str]:
    """An http URL whose port stays bound, never listened on, until the block ends: connections
    are refused and no service started meanwhile can take the port (one merely found free once
    was, in one full run, an MLflow server's by the time the test used it)."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{reserved.getsockname()[1]}"
