"""Whole-block deadlines (SIGALRM): the previous handler and timer come back, and an enclosing
deadline that expires inside an inner `within` stays the enclosing one's (not an inner
TimeoutError that the inner code would handle as its own request failing, and go on)."""

from __future__ import annotations

import signal
import time

import pytest

from mlci import deadlines


def test_the_previous_handler_and_timer_are_restored() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("the outer timer fired early")

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with deadlines.deadline(5):
            pass
        assert signal.getsignal(signal.SIGALRM) is mine
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_inner_within_raises_its_own_expiry_as_timeout() -> None:
    with pytest.raises(TimeoutError), deadlines.deadline(30), deadlines.within(0.2):
        time.sleep(5)


def test_an_enclosing_deadline_is_not_turned_into_the_inner_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(deadlines.DeadlinePassed) as caught, deadlines.deadline(0.2):
        try:
            with deadlines.within(30):
                time.sleep(5)
        except TimeoutError:  # what code using `within` does with its own request's timeout
            time.sleep(3)  # ... and goes on, past the enclosing deadline
    assert caught.value.seconds == 0.2
    assert time.monotonic() - started < 2
