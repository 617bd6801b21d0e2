"""A target's Ansible inventory as Ansible reads it (`ansible-inventory --list`, so INI, YAML,
plugins and group vars all count), and the hosts of its `model_servers` group.

A deploy, rollback or monitoring config that reaches no model server would "pass" having done
nothing, so an empty group is bad input, found before any playbook runs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from mlci.errors import InputError
from mlci.programs import installed

SERVER_GROUP = "model_servers"


def listing(path: Path, label: str | None = None, limit: list[str] | None = None) -> dict[str, Any]:
    """`ansible-inventory --list` of `path` (named `label` in messages), narrowed by `limit`."""
    exe = installed("ansible-inventory")
    if not exe:
        raise InputError("ansible-inventory not found: install mlci with its `all` extra (ansible-core)")
    argv = [exe, "-i", str(path), "--list"]
    if limit:
        argv += ["--limit", ",".join(limit)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    name = label or str(path)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{name}: ansible-inventory cannot read it: {last[:300]}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise InputError(f"{name}: ansible-inventory printed no inventory") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: ansible-inventory printed no inventory")
    return data


def group_hosts(data: dict[str, Any], group: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """Every host of `group` and of its child groups (a cycle is not followed twice)."""
    entry = data.get(group) or {}
    hosts = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        if child not in seen:
            hosts += group_hosts(data, child, seen | {group})
    return sorted(set(hosts))


def server_hosts(path: Path, label: str, limit: list[str] | None = None) -> list[str]:
    """The model servers a playbook run on `path` would reach; bad input when there are none."""
    data = listing(path, label, limit)
    hosts = group_hosts(data, SERVER_GROUP)
    if not hosts:
        where = f" matching --limit {','.join(limit)}" if limit else ""
        # ansible-inventory leaves an empty group out, so "no group" and "no hosts" are one case.
        raise InputError(f"{label}: no hosts in group {SERVER_GROUP}{where}; the playbook would deploy nothing")
    return hosts
