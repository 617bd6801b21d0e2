"""Whole-answer deadlines for network calls. A socket timeout bounds each wait for bytes, so
a server that sends one byte a second never trips it; these bound the wall time of a block."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class DeadlinePassed(BaseException):
    """Raised from SIGALRM inside a `deadline`. A BaseException: the `except Exception` in
    MLflow's and requests' retry code must not swallow it and go on waiting."""

    def __init__(self, seconds: float, owner: object = None) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds
        self.owner = owner  # the token `deadline` yielded: which block's deadline this is


@contextmanager
def deadline(seconds: float) -> Iterator[object | None]:
    """Raise DeadlinePassed in the block after `seconds` of wall time, whatever it is blocked
    in (a socket read that gets a byte every second never times out by itself). Main thread
    only (signals); elsewhere the socket timeouts are the only bound. Nests: the shorter wins.
    Yields a token that a DeadlinePassed of this block carries as `owner` (None when an
    enclosing deadline comes first: then any DeadlinePassed in the block is the enclosing one's)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:
        yield None  # an enclosing deadline comes first
        return
    token = object()

    def expire(signum: int, frame: object) -> None:
        raise DeadlinePassed(seconds, token)

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield token
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """`deadline`, with a passed deadline raised as TimeoutError (an OSError), for code that
    already handles urllib's and requests' errors. An enclosing deadline's expiry stays a
    DeadlinePassed: as a TimeoutError the inner code would take it for its own request's and
    go on past the enclosing deadline."""
    token: object | None = None
    try:
        with deadline(seconds) as token:
            yield
    except DeadlinePassed as err:
        if token is None or err.owner is not token:
            raise
        raise TimeoutError(str(err)) from None
