"""What one server holds at a time: request bytes in progress, and how long a client may take
to send a request. Both keep a slow or greedy client from taking the memory or the connections
that the others need."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class ByteBudget:
    """Bytes of request bodies held by requests in progress (read, parsed, waiting to predict).

    One request is always admitted when nothing else is held, so a body up to --max-body-bytes
    always works on an idle server whatever the budget. Used on the event loop only: no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def hold(self) -> Hold:
        return Hold(self)


class Hold:
    def __init__(self, budget: ByteBudget) -> None:
        self.budget = budget
        self.size = 0

    def grow(self, size: int) -> bool:
        """Hold `size` bytes in all; False (holding what it held) when the budget has no room."""
        extra = size - self.size
        if extra <= 0:
            return True
        others = self.budget.used - self.size
        if others > 0 and self.budget.used + extra > self.budget.limit:
            return False
        self.budget.used += extra
        self.size = size
        return True

    def release(self) -> None:
        self.budget.used -= self.size
        self.size = 0


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with the head of every request due within `read_timeout` of
    its first byte (slowloris), and an idle timeout from the connection's start: uvicorn arms
    its keep-alive timer only after a response, so a client that connects and never sends
    would hold its connection forever."""

    read_timeout = 30.0  # set by the server from --read-timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        if self.head_timer is None and self.conn.their_state is h11.IDLE:
            self.head_timer = self.loop.call_later(self.read_timeout, self.head_timeout)
        super().data_received(data)
        if self.head_timer is not None and self.conn.their_state is not h11.IDLE:
            self.head_timer.cancel()  # the head arrived; the application times the body
            self.head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().connection_lost(exc)

    def head_timeout(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        # Written raw: h11 has no response to send before it parsed a request head.
        body = f"the request head took longer than {self.read_timeout:g} s (--read-timeout)\n".encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.transport.close()
