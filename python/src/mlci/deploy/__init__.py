"""Deploy backends behind one interface: `ansible` (on-prem hosts behind HAProxy) and
`kubernetes` (a cluster). A backend deploys an image to a target, or rolls the target back, and
reports per host (per Deployment on Kubernetes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlci.deploy.outcome import Backend
from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config, DeployTarget


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
