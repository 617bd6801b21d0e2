"""Running the bundled roles' parts on this machine: a load balancer on a local connection
through the real playbook, and a role's module run as Ansible runs one (the file, its
arguments as JSON on stdin)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
IMAGE = "registry.invalid/m@sha256:" + "0" * 64


def lb_inventory(root: Path, lb: dict[str, Any], model_servers: dict[str, Any] | None = None) -> Path:
    """An inventory whose one load balancer `lb` (its mlci_lb_* vars) runs on this machine."""
    children: dict[str, Any] = {"load_balancers": {"hosts": {"lb": {"mlci_lb_install": False, **lb}}}}
    if model_servers is not None:
        children["model_servers"] = {"hosts": model_servers}
    vars_ = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    path = root / "inventory.yml"
    path.write_text(json.dumps({"all": {"vars": vars_, "children": children}}), encoding="utf-8")
    return path


def deploy_playbook(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """ansible/deploy.yml on root's inventory.yml."""
    argv = [str(PLAYBOOK), "-i", str(root / "inventory.yml"), str(REPO / "ansible" / "deploy.yml")]
    argv += ["-e", f"mlci_server_image={IMAGE}", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def run_module(module: Path, args: dict[str, Any]) -> dict[str, Any]:
    """The module's JSON result for `args`."""
    proc = subprocess.run(
        [sys.executable, str(module)],
        input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
