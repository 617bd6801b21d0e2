"""A deploy site for tests and benchmarks: an inventory of model-server targets on this machine
(local connection, plus one over SSH when given) behind a private HAProxy, a project with a
`.mlci.yml` deploy target and a holdout, and helpers to run `mlci` and read each host's facts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.model_images import Images
from services.ports import free_port
from services.ssh_target import SshTarget

MLCI = Path(sys.executable).parent / "mlci"
# HAProxy's server admin-state bits: maintenance forced, inherited or by DNS; drain forced.
LB_MAINT, LB_DRAIN = 0x01 | 0x02 | 0x20, 0x08


@dataclass
class Site:
    project: Path
    state: Path
    service: str
    lb_port: int
    images: Images
    hosts: list[str]

    def facts(self, host: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state / host / "facts" / f"mlci_{self.service}.fact").read_text())
        return data

    def active_images(self) -> set[str]:
        return {self.facts(h)["active_image"] for h in self.hosts}

    def lb(self, command: str) -> str:
        """One command on the load balancer's admin socket (HAProxy's runtime API)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(str(self.state / "lb" / "admin.sock"))
            conn.sendall(command.encode() + b"\n")
            return b"".join(iter(lambda: conn.recv(65536), b"")).decode()

    def lb_servers(self) -> dict[str, tuple[str, int]]:
        """Backend server name -> (ready | drain | maint, weight), from `show servers state`."""
        servers = {}
        for line in self.lb(f"show servers state {self.service}").splitlines():
            fields = line.split()
            if len(fields) > 7 and not line.startswith("#") and fields[1] == self.service:
                admin = int(fields[6])
                state = "maint" if admin & LB_MAINT else "drain" if admin & LB_DRAIN else "ready"
                servers[fields[3]] = (state, int(fields[7]))
        return servers

    def lb_worker(self) -> int:
        """PID of the HAProxy worker that answers now (a reload starts a new one)."""
        return int(next(ln for ln in self.lb("show info").splitlines() if ln.startswith("Pid:")).split(":")[1])

    def serving(self) -> dict[str, tuple[str, int]]:
        """Each host's active slot in the load balancer: host -> (state, weight)."""
        servers = self.lb_servers()
        return {h: servers[f"{h}_{self.facts(h)['active_slot']}"] for h in self.hosts}

    def serving_image(self, host: str) -> str:
        """The image of the container in the host's active slot."""
        container = f"mlci-{self.service}-{self.facts(host)['active_slot']}"
        argv = ["docker", "container", "inspect", "--format", "{{.Config.Image}}", container]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()

    def containers(self) -> dict[str, str]:
        """Container name -> ID of this site's running containers."""
        out = subprocess.run(
            ["docker", "ps", "--filter", f"label=io.mlci.service={self.service}", "--format", "{{.Names}} {{.ID}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split() for line in out.splitlines())


# The host where the `crash` build crashes: the third of four, in the rolling deploy's last batch.
CRASH_HOST = "local3"


def inventory(site_dir: Path, service: str, lb_port: int, ssh: SshTarget | None, local: int = 3) -> str:
    python = sys.executable
    hosts: dict[str, dict[str, Any]] = {}
    for i in range(1, local + 1):
        hosts[f"local{i}"] = {"ansible_connection": "local"}
    if CRASH_HOST in hosts:
        hosts[CRASH_HOST]["mlci_server_env"] = {"DEPLOYTEST_CRASH": "1"}
    if ssh is not None:
        hosts["remote"] = {
            "ansible_connection": "ssh",
            "ansible_port": ssh.port,
            "ansible_user": ssh.user,
            "ansible_ssh_private_key_file": str(ssh.key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={ssh.known_hosts} -o StrictHostKeyChecking=yes",
        }
    for name, host in hosts.items():
        host.update(
            ansible_host="127.0.0.1",
            mlci_server_slots={f"{name}-a": free_port(), f"{name}-b": free_port()},
            mlci_server_state_dir=str(site_dir / "state" / name),
            mlci_server_facts_dir=str(site_dir / "state" / name / "facts"),
        )
    doc = {
        "all": {
            "vars": {"ansible_python_interpreter": python, "mlci_server_service": service, "mlci_lb_service": service},
            "children": {
                "load_balancers": {
                    "hosts": {
                        "lb": {
                            "ansible_connection": "local",
                            "mlci_lb_dir": str(site_dir / "state" / "lb"),
                            "mlci_lb_port": lb_port,
                            "mlci_lb_bind_address": "127.0.0.1",
                            "mlci_lb_install": False,
                        }
                    }
                },
                "model_servers": {
                    "vars": {
                        "mlci_server_bind_address": "127.0.0.1",
                        "mlci_server_memory": "512m",
                        "mlci_server_cpus": "1.0",
                        "mlci_server_stop_timeout": 10,
                    },
                    "hosts": hosts,
                },
            },
        }
    }
    return json.dumps(doc, indent=2)


MLCI_YML = """\
version: 1
model:
  name: deploytest
  task: classification
  target: label
data:
  holdout: data/holdout.csv
deploy:
  - name: site
    type: ansible
    environment: staging
    strategy: blue-green
    inventory: inventory.yml
    service: {service}
    url: http://127.0.0.1:{lb_port}
    canary_steps: [10, 50, 100]
    canary_interval_seconds: 4
    # This machine is shared and busy: tail latency is noisy, so the relative p99 limit is loose
    # and the median (p50, default limits) is what catches a slower build. A stall of the whole
    # machine (load 8-12) can push any p99 past a second; it hits the stable slots in the same
    # window too, so latency is judged against stable, and the absolute limit only catches the
    # absurd.
    slo:
      min_requests: 20
      max_p99_ms: 10000
      p99_factor: 3.0
      p99_slack_ms: 250
    smoke:
      rows: 8
      batch_rows: 4
      expected_column: expected
    vars:
      # A model server starts in seconds on a quiet machine and took over 60 s under a CPU hog.
      mlci_server_ready_timeout: 120
      mlci_server_probe_requests: 120
      # A request may wait its turn for a CPU long on a machine at load 20: slow is judged by
      # latency against stable, a failure is a failure.
      mlci_server_probe_timeout: 30
      mlci_server_probe_slo:
        min_requests: 100
        max_error_rate: 0.0
        max_error_rate_increase: 0.0
        max_p99_ms: 10000
        p99_factor: 3.0
        p99_slack_ms: 250
"""


def create(root: Path, images: Images, ssh: SshTarget | None, local: int = 3) -> Site:
    service = f"dt{os.getpid()}"
    lb_port = free_port()
    (root / "inventory.yml").write_text(inventory(root, service, lb_port, ssh, local), encoding="utf-8")
    (root / ".mlci.yml").write_text(MLCI_YML.format(lb_port=lb_port, service=service), encoding="utf-8")
    lines = ["x,n,label,expected"] + [f"{x},{n},{int(x > 0)},{int(x > 0)}" for x, n in images.rows]
    (root / "data").mkdir()
    (root / "data" / "holdout.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    hosts = [f"local{i}" for i in range(1, local + 1)] + (["remote"] if ssh else [])
    return Site(root, root / "state", service, lb_port, images, hosts)


def remove(site: Site) -> None:
    """Remove the site's containers and stop its HAProxy."""
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.mlci.service={site.service}"], capture_output=True, text=True
    ).stdout.split()
    if found:
        subprocess.run(["docker", "rm", "--force", *found], capture_output=True, check=False)
    pid_file = site.state / "lb" / "haproxy.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def mlci(site: Site, command: str, **params: Any) -> tuple[int, dict[str, Any], str]:
    params_file = site.project / f"{command}.params.json"
    result_file = site.project / f"{command}.result.json"
    params_file.write_text(json.dumps({"configFile": str(site.project / ".mlci.yml"), **params}), encoding="utf-8")
    proc = subprocess.run(
        [str(MLCI), command, "--params", str(params_file), "--result", str(result_file)],
        cwd=site.project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, json.loads(result_file.read_text()), proc.stderr
