#!/usr/bin/python
"""Set HAProxy servers' runtime state and weight through the admin socket; no reload needed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlci_haproxy
short_description: Set HAProxy server states and weights through the runtime API
description:
  - Puts each listed server of one backend into C(ready) with a weight, or into C(maint) after
    draining its sessions, through HAProxy's admin socket. Nothing is reloaded, so no client
    connection is closed.
  - Can also save the servers' state to the server-state file before a reload.
options:
  socket:
    description: Path of HAProxy's admin socket (C(stats socket ... level admin)).
    type: path
    required: true
  backend:
    description: Backend whose servers are changed.
    type: str
    required: true
  servers:
    description: Servers to set; a server not listed is left as it is.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Server name in the backend.
        type: str
        required: true
      state:
        description: C(ready) takes traffic with I(weight); C(maint) takes none, after draining.
        type: str
        choices: [ready, maint]
        required: true
      weight:
        description: Weight when ready, 0 to 256.
        type: int
        default: 100
  drain_timeout:
    description: Seconds to wait for a server's sessions to end before it goes into maintenance.
    type: float
    default: 30
  save_state:
    description: Write C(show servers state) to this file (HAProxy's server-state-file).
    type: path
author: mlci
"""

RETURN = r"""
servers:
  description: Server name to its state and weight after the change.
  returned: always
  type: dict
commands:
  description: Runtime API commands sent.
  returned: always
  type: list
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule

FMAINT, IMAINT, FDRAIN, RMAINT = 0x01, 0x02, 0x08, 0x20


def send(path, command):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    try:
        conn.connect(path)
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = conn.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        conn.close()
    return b"".join(chunks).decode()


def servers_state(path, backend):
    """name -> (maint, drain, user weight) from `show servers state`."""
    out = {}
    for line in send(path, f"show servers state {backend}").splitlines():
        fields = line.split()
        if len(fields) < 8 or line.startswith("#") or fields[1] != backend:
            continue
        admin = int(fields[6])
        out[fields[3]] = (bool(admin & (FMAINT | IMAINT | RMAINT)), bool(admin & FDRAIN), int(fields[7]))
    return out


def sessions(path, backend, name):
    header, rows = None, []
    for line in send(path, "show stat").splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
        elif line:
            rows.append(line.split(","))
    for row in rows:
        record = dict(zip(header or [], row))
        if record.get("pxname") == backend and record.get("svname") == name:
            return int(record.get("scur") or 0)
    return 0


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "required": True},
            "backend": {"type": "str", "required": True},
            "servers": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "state": {"type": "str", "required": True, "choices": ["ready", "maint"]},
                    "weight": {"type": "int", "default": 100},
                },
            },
            "drain_timeout": {"type": "float", "default": 30},
            "save_state": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    path, backend = p["socket"], p["backend"]
    try:
        current = servers_state(path, backend)
    except OSError as err:
        module.fail_json(msg=f"HAProxy admin socket {path}: {err}")
    commands = []
    for server in p["servers"]:
        name = server["name"]
        if name not in current:
            module.fail_json(msg=f"backend {backend} has no server {name}; is the load balancer config current?")
        maint, drain, weight = current[name]
        if server["state"] == "ready":
            wanted = server["weight"]
            if not 0 <= wanted <= 256:
                module.fail_json(msg=f"{name}: weight {wanted} is outside 0..256")
            if weight != wanted:
                commands.append(f"set server {backend}/{name} weight {wanted}")
            if maint or drain:
                commands.append(f"set server {backend}/{name} state ready")
        elif not maint:
            commands.append(f"set server {backend}/{name} state drain")
            commands.append(f"wait {name}")
            commands.append(f"set server {backend}/{name} state maint")
    if not module.check_mode:
        for command in commands:
            if command.startswith("wait "):
                # Sessions end as their requests complete: the server stops taking new ones first.
                deadline = time.monotonic() + p["drain_timeout"]
                while sessions(path, backend, command[5:]) > 0 and time.monotonic() < deadline:
                    time.sleep(0.2)
                continue
            answer = send(path, command).strip()
            if answer:
                module.fail_json(msg=f"HAProxy refused {command!r}: {answer}", commands=commands)
        if p["save_state"]:
            with open(p["save_state"], "w", encoding="utf-8") as fh:
                fh.write(send(path, "show servers state"))
    after = {} if module.check_mode else servers_state(path, backend)
    result = {
        name: {"state": "maint" if m else ("drain" if d else "ready"), "weight": w} for name, (m, d, w) in after.items()
    }
    module.exit_json(changed=bool(commands), commands=[c for c in commands if not c.startswith("wait ")], servers=result)


if __name__ == "__main__":
    main()
