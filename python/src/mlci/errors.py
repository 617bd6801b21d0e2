"""The errors a step raises, each with the exit code the step protocol gives it."""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INFRASTRUCTURE = 3


class MlciError(Exception):
    """Base of every error mlci reports to the user; `str(err)` is the one-line summary."""

    exit_code = EXIT_INFRASTRUCTURE

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        # Further lines (e.g. every config error after the first) go to the log, not the summary.
        self.details = details or []


class InputError(MlciError):
    """Bad input: malformed config or params, a missing file, a wrong schema (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class InfrastructureError(MlciError):
    """A service the step needs is unreachable or failing (exit 3); `service` names it."""

    exit_code = EXIT_INFRASTRUCTURE

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
