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

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlinePassed in the block after `seconds` of wall time, whatever it is blocked
    in (a socket read that gets a byte every second never times out by itself). Main thread
    only (signals); elsewhere the socket timeouts are the only bound. Nests: the shorter wins."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:
        yield  # an enclosing deadline comes first
        return

    def expire(signum: int, frame: object) -> None:
        raise DeadlinePassed(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """`deadline`, with a passed deadline raised as TimeoutError (an OSError), for code that
    already handles urllib's and requests' errors."""
    try:
        with deadline(seconds):
            yield
    except DeadlinePassed as err:
        raise TimeoutError(str(err)) from None
