"""Human log lines, on stderr: plain lines under Jenkins or in a pipe, a live status line in a
terminal. Every line passes through `redact`, so a secret bound by `withCredentials` never
reaches a log, a result file or a report, whatever code produced the text.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

_verbose = False
_lock = threading.Lock()
_status: str | None = None  # the live line currently drawn under the log, in a terminal


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on


def interactive(stream: TextIO | None = None) -> bool:
    """True in a real terminal; Jenkins (and any pipe) gets plain lines."""
    stream = stream or sys.stderr
    return stream.isatty() and "JENKINS_URL" not in os.environ and os.environ.get("TERM") != "dumb"


def _secret_values() -> list[str]:
    from mlci import contracts

    names = {env for cred in contracts.credential_catalog().values() for env in cred.env.values()}
    # Longest first, so a secret that contains another is masked whole.
    values = {os.environ[n] for n in names if os.environ.get(n)}
    return sorted((v for v in values if len(v) >= 3), key=len, reverse=True)


def redact(text: str) -> str:
    for value in _secret_values():
        text = text.replace(value, "****")
    return text


def redact_data(data: Any) -> Any:
    """`redact` over every string inside JSON-like data."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_data(v) for v in data]
    return data


def _emit(line: str) -> None:
    with _lock:
        err = sys.stderr
        if _status is not None:
            err.write("\r\033[K")
        err.write(redact(line) + "\n")
        if _status is not None:
            err.write(_status)
        err.flush()


def info(message: str) -> None:
    _emit(f"mlci: {message}")


def warn(message: str) -> None:
    _emit(f"mlci: warning: {message}")


def error(message: str) -> None:
    _emit(f"mlci: error: {message}")


def debug(message: str) -> None:
    if _verbose:
        _emit(f"mlci: debug: {message}")


def raw(text: str) -> None:
    """Text that is not ours (a traceback, a child's output), passed through redacted."""
    _emit(text.rstrip("\n"))


class Status:
    """A live `⠋ label  12.3s` line in a terminal while long work runs; nothing otherwise."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, label: str) -> None:
        self.label = label
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()

    def __enter__(self) -> Status:
        if interactive():
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        global _status
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            with _lock:
                _status = None
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()

    def _spin(self) -> None:
        global _status
        frame = 0
        while not self._stop.is_set():
            elapsed = time.monotonic() - self._start
            with _lock:
                _status = f"{self.FRAMES[frame % len(self.FRAMES)]} {self.label}  {elapsed:5.1f}s"
                sys.stderr.write("\r\033[K" + _status)
                sys.stderr.flush()
            frame += 1
            self._stop.wait(0.1)
