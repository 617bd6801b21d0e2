"""`mlci deploy` and `mlci rollback` on an Ansible target whose inventory reaches no model
server: bad input (exit 2) naming the inventory and what is missing, found by a real
`ansible-inventory` before any playbook runs, so no HAProxy and no container was started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from services.deploy_site import MLCI_YML
from services.ports import free_port

MLCI = Path(sys.executable).parent / "mlci"
IMAGE = "127.0.0.1:5000/deploytest@sha256:" + "0" * 64
SERVICE = "dtnohosts"


def project(root: Path, servers: dict[str, Any] | None) -> Path:
    """A project whose inventory has a real load balancer and `servers` as its model_servers
    group (None: no such group)."""
    lb = {
        "ansible_connection": "local",
        "mlci_lb_dir": str(root / "state" / "lb"),
        "mlci_lb_port": free_port(),
        "mlci_lb_bind_address": "127.0.0.1",
        "mlci_lb_install": False,
    }
    children: dict[str, Any] = {"load_balancers": {"hosts": {"lb": lb}}}
    if servers is not None:
        children["model_servers"] = servers
    doc = {"all": {"vars": {"ansible_python_interpreter": sys.executable}, "children": children}}
    (root / "deploy").mkdir()
    (root / "deploy" / "staging.yml").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    config = MLCI_YML.format(lb_port=lb["mlci_lb_port"], service=SERVICE)
    (root / ".mlci.yml").write_text(config.replace("inventory: inventory.yml", "inventory: deploy/staging.yml"))
    (root / "data").mkdir()
    rows = [f"{x},{x % 3},{int(x > 0)},{int(x > 0)}" for x in range(-4, 5)]
    (root / "data" / "holdout.csv").write_text("x,n,label,expected\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def mlci(root: Path, command: str, **params: Any) -> tuple[int, dict[str, Any], str]:
    params_file, result_file = root / f"{command}.params.json", root / f"{command}.result.json"
    params_file.write_text(json.dumps({"configFile": str(root / ".mlci.yml"), **params}), encoding="utf-8")
    argv = [str(MLCI), command, "--params", str(params_file), "--result", str(result_file)]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300)
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    return proc.returncode, result, proc.stderr


def assert_nothing_started(root: Path) -> None:
    assert not (root / "state" / "lb").exists()  # the load-balancer play never ran: no HAProxy
    assert not list((root / "reports").glob("**/*-vars.json"))  # no playbook was prepared
    docker = ["docker", "ps", "-aq", "--filter", f"label=io.mlci.service={SERVICE}"]
    assert subprocess.run(docker, capture_output=True, text=True, check=True).stdout.split() == []


@pytest.mark.parametrize(
    ("servers", "missing"),
    [
        (None, "no hosts in group model_servers"),
        ({"hosts": {}}, "no hosts in group model_servers"),
        ({"children": {"empty_rack": {"hosts": {}}}}, "no hosts in group model_servers"),
    ],
    ids=["no-group", "empty-group", "empty-children"],
)
@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_an_inventory_without_model_servers_is_bad_input(
    tmp_path: Path, servers: dict[str, Any] | None, missing: str, command: str
) -> None:
    root = project(tmp_path, servers)
    params: dict[str, Any] = {"target": "site"} | ({"image": IMAGE} if command == "deploy" else {})
    code, result, stderr = mlci(root, command, **params)
    assert code == 2, (result, stderr[-2000:])
    assert f"deploy/staging.yml: {missing}; the playbook would deploy nothing" in result.get("summary", stderr)
    assert "Traceback" not in stderr
    assert_nothing_started(root)
