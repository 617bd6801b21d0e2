"""Deploy backends behind one interface: `ansible` (on-prem hosts behind HAProxy) and
`kubernetes` (a cluster). A backend deploys an image to a target, or rolls the target back, and
reports per host (per Deployment on Kubernetes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config, DeployTarget


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


def backend(config: Config, target: DeployTarget, project_dir: Path, report_dir: Path) -> Backend:
    if target.type == "ansible":
        from mlci.deploy.ansible import AnsibleBackend

        return AnsibleBackend(config, target, project_dir, report_dir)
    if target.type == "kubernetes":
        from mlci.deploy.kubernetes import KubernetesBackend

        return KubernetesBackend(config, target, project_dir, report_dir)
    raise InputError(f"deploy target {target.name}: type {target.type} is not supported by this mlci version yet")


def find_target(config: Config, name: str | None) -> DeployTarget:
    targets = config.deploy
    if not targets:
        raise InputError("deploy: no targets in .mlci.yml (see docs/config.md#deploy)")
    if name is None:
        if len(targets) > 1:
            raise InputError(f"target: required when .mlci.yml has several ({', '.join(t.name for t in targets)})")
        return targets[0]
    for target in targets:
        if target.name == name:
            return target
    from mlci.contracts import did_you_mean

    raise InputError(f"target: no deploy target named {name!r}{did_you_mean(name, [t.name for t in targets])}")
