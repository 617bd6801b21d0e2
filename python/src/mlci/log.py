"""Human log lines, on stderr: plain lines under Jenkins or in a pipe, a live status line in a
terminal. Every line passes through `redact` (mlci.masking), so a secret bound by
`withCredentials` never reaches a log, a result file or a report, whatever code produced the
text. `setup` masks the process's own stdout and stderr too and quiets libraries' noise.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from mlci import masking

_verbose = False
_lock = threading.Lock()
_status: str | None = None  # the live line currently drawn under the log, in a terminal


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on
    if _set_by_us or on:
        _libraries(verbose=on)


def interactive(stream: TextIO | None = None) -> bool:
    """True in a real terminal; Jenkins (and any pipe) gets plain lines."""
    stream = stream or sys.stderr
    return stream.isatty() and "JENKINS_URL" not in os.environ and os.environ.get("TERM") != "dumb"


redact = masking.redact
redact_data = masking.redact_data

# What keeps mlflow quiet (and the training command it runs, which inherits the environment):
# no artifact progress bars, only its errors. A user's own setting wins.
QUIET_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_LOGGING_LEVEL": "ERROR"}
VERBOSE_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "true", "MLFLOW_LOGGING_LEVEL": "INFO"}
_set_by_us: set[str] = set()


def setup() -> None:
    """Once, before anything heavy is imported: mask what this process prints itself (mlflow's
    log handler, warnings, a traceback), and quiet libraries unless `verbose` turns them on."""
    if not isinstance(sys.stderr, masking.MaskedStream):
        sys.stderr = masking.MaskedStream(sys.stderr)
    if not isinstance(sys.stdout, masking.MaskedStream):
        sys.stdout = masking.MaskedStream(sys.stdout)
    _libraries(verbose=_verbose)


def _libraries(verbose: bool) -> None:
    import logging
    import warnings

    for key, value in (VERBOSE_ENV if verbose else QUIET_ENV).items():
        if key not in os.environ or key in _set_by_us:
            os.environ[key] = value
            _set_by_us.add(key)
    # mlflow reads MLFLOW_LOGGING_LEVEL when first imported; this covers it being imported already.
    logging.getLogger("mlflow").setLevel(logging.INFO if verbose else logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    # Deprecation and "future" notices of mlflow, pydantic, sklearn: not the user's business in a step.
    warnings.filterwarnings("default" if verbose else "ignore")


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
