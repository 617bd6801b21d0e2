"""What a deploy backend reports: per-host results and the outcome of one deploy or rollback,
and the interface every backend (Ansible, Kubernetes) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class HostResult:
    host: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    rescued: int = 0

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass
class Outcome:
    passed: bool
    message: str  # why it failed, from the playbook's own failure message
    hosts: dict[str, HostResult] = field(default_factory=dict)
    seconds: float = 0.0
    switched: list[str] = field(default_factory=list)  # hosts that now run the new version
    rolled_back: list[str] = field(default_factory=list)  # hosts of earlier batches restored after a failure
    transcripts: list[Path] = field(default_factory=list)  # the playbook runs' output, for the reports

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "message": self.message,
            "seconds": round(self.seconds, 2),
            "rolledBack": self.rolled_back,
            "hosts": {h: {"status": r.status, "changed": r.changed, "failed": r.failed} for h, r in self.hosts.items()},
        }


class Backend(Protocol):
    def deploy(self, image: str, smoke_payload: dict[str, Any], expected: list[Any]) -> Outcome: ...

    def rollback(self, smoke_payload: dict[str, Any] | None = None) -> Outcome: ...
