"""The Ansible backend: the bundled playbooks (ansible/deploy.yml, rollback.yml), run with
`ansible-playbook` on the target's inventory and extra-vars built from `.mlci.yml`.

Ansible's own output is the per-task progress in the log and the transcript, in whatever form
the workspace's ansible.cfg chooses; what the step decides on (per-host recap, failure messages,
hosts switched) comes from mlci's callback plugin (callback_plugins/mlci_events.py) as JSON
lines, never from that text. The playbook's explicit failure message becomes the step's summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import log, masking
from mlci.deploy import inventory
from mlci.deploy.outcome import HostResult, Outcome
from mlci.errors import InfrastructureError, InputError
from mlci.programs import installed

if TYPE_CHECKING:
    from mlci.config import Config, DeployTarget

FACTS_TASK = "Write the facts file"
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


def playbook_dir() -> Path:
    """The playbooks: MLCI_ANSIBLE_DIR, else the ansible/ folder of this source tree."""
    given = os.environ.get("MLCI_ANSIBLE_DIR")
    folder = Path(given) if given else Path(__file__).resolve().parents[4] / "ansible"
    if not (folder / "deploy.yml").is_file():
        raise InputError(f"{folder}: no deploy.yml; set MLCI_ANSIBLE_DIR to mlci's ansible/ folder")
    return folder


def ansible_playbook() -> str:
    found = installed("ansible-playbook")
    if not found:
        raise InputError("ansible-playbook not found: install mlci with its `all` extra (ansible-core)")
    return found


class AnsibleBackend:
    def __init__(self, config: Config, target: DeployTarget, project_dir: Path, report_dir: Path) -> None:
        if not target.inventory:
            raise InputError(f"deploy target {target.name}: inventory is required for type ansible")
        self.config = config
        self.target = target
        self.inventory = (project_dir / target.inventory).resolve()
        if not self.inventory.exists():
            raise InputError(f"deploy target {target.name}: inventory {target.inventory} not found")
        self.report_dir = report_dir
        self.service = target.service or config.model.name

    def extra_vars(self, image: str | None, smoke_payload: dict[str, Any], expected: list[Any]) -> dict[str, Any]:
        t = self.target
        data: dict[str, Any] = {
            "mlci_server_service": self.service,
            "mlci_lb_service": self.service,
            "mlci_server_strategy": t.strategy,
            "mlci_server_canary_steps": t.canary_steps,
            "mlci_server_canary_interval": t.canary_interval_seconds,
            "mlci_server_canary_slo": t.slo.model_dump(),
            "mlci_server_keep_previous_minutes": t.keep_previous_minutes,
            "mlci_server_smoke_payload": smoke_payload,
            "mlci_server_smoke_expected": expected,
        }
        if image:
            data["mlci_server_image"] = image
        if self.config.monitoring.prometheus_url:
            data["mlci_server_prometheus_url"] = self.config.monitoring.prometheus_url
        data.update(t.vars)
        return data

    def deploy(self, image: str, smoke_payload: dict[str, Any], expected: list[Any]) -> Outcome:
        outcome = self._run("deploy.yml", self.extra_vars(image, smoke_payload, expected))
        if not outcome.passed and self.target.strategy == "rolling" and outcome.switched:
            # Earlier batches already run the new version: the one automatic rollback restores them.
            hosts = outcome.switched
            log.info(f"restoring the previous version on {', '.join(hosts)} (updated in earlier batches)")
            restore_vars = {**self.extra_vars(None, smoke_payload, []), "mlci_server_restore": True}
            restore = self._run("rollback.yml", restore_vars, limit=hosts)
            outcome.transcripts += restore.transcripts
            if not restore.passed:
                outcome.message += f"; restoring {', '.join(hosts)} failed too: {restore.message}"
            else:
                outcome.rolled_back = hosts
        return outcome

    def rollback(self, smoke_payload: dict[str, Any] | None = None) -> Outcome:
        extra = self.extra_vars(None, smoke_payload or {}, [])
        if self.target.strategy == "canary":
            extra["mlci_server_strategy"] = "blue-green"  # the way back is one instant switch, not steps
        return self._run("rollback.yml", extra)

    def _argv(self, playbook: str, vars_file: Path, limit: list[str] | None) -> list[str]:
        argv = [ansible_playbook(), "-i", str(self.inventory), str(playbook_dir() / playbook), "-e", f"@{vars_file}"]
        if limit:
            argv += ["--limit", ",".join(limit)]
        key, user = os.environ.get("MLCI_SSH_KEY_FILE"), os.environ.get("MLCI_SSH_USER")
        if key:
            argv += ["--private-key", key]
        if user:
            argv += ["--user", user]
        return argv

    def _run(self, playbook: str, extra: dict[str, Any], limit: list[str] | None = None) -> Outcome:
        # A run that reaches no model server would "pass" having done nothing: refused first.
        inventory.server_hosts(self.inventory, str(self.target.inventory), limit)
        self.report_dir.mkdir(parents=True, exist_ok=True)
        vars_file = self.report_dir / f"{Path(playbook).stem}-{self.target.name}-vars.json"
        vars_file.touch(mode=0o600)
        vars_file.write_text(json.dumps(extra, indent=2) + "\n", encoding="utf-8")
        argv = self._argv(playbook, vars_file, limit)
        env = {
            **os.environ,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            # One SSH round trip per task instead of three (copy, run, clean up).
            "ANSIBLE_PIPELINING": "1",
            "PYTHONUNBUFFERED": "1",
        }
        log.info(f"{playbook} on {self.target.name} ({self.target.strategy}, inventory {self.target.inventory})")
        # Ours first; a site's own callback plugins stay on the path.
        env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(
            p for p in (str(CALLBACKS), os.environ.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p
        )
        events = self.report_dir / f".{Path(playbook).stem}-{self.target.name}-events.jsonl"
        events.unlink(missing_ok=True)
        events.touch(mode=0o600)  # failure messages may quote what a task was given
        env["MLCI_ANSIBLE_EVENTS"] = str(events)
        started = time.monotonic()
        transcript = self.report_dir / f"{Path(playbook).stem}-{self.target.name}.log"
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        except OSError as err:
            raise InfrastructureError("ansible-playbook", f"cannot start: {err}") from None
        if proc.stdout is None:  # never: stdout is a pipe
            raise InfrastructureError("ansible-playbook", "no output pipe")
        with transcript.open("w", encoding="utf-8") as out:
            for line in proc.stdout:
                out.write(masking.redact(line))
                if line.strip():
                    log.raw(line.rstrip("\n"))
        code = proc.wait()
        seconds = time.monotonic() - started
        try:
            hosts, failures, switched = read_events(events)
        finally:
            events.unlink(missing_ok=True)
        unreachable = [h for h, r in hosts.items() if r.unreachable]
        if unreachable:
            raise InfrastructureError(f"hosts {', '.join(unreachable)}", failures.get(unreachable[0], "unreachable"))
        if code != 0 and not failures:
            raise InfrastructureError("ansible-playbook", f"{playbook} exited {code} (transcript: {transcript})")
        failed = [h for h, r in hosts.items() if r.failed]
        message = "; ".join(f"{h}: {failures[h]}" for h in failed if h in failures) or next(iter(failures.values()), "")
        switched = [h for h in switched if h not in failed]
        return Outcome(code == 0, message, hosts, seconds, switched, transcripts=[vars_file, transcript])


def read_events(path: Path) -> tuple[dict[str, HostResult], dict[str, str], list[str]]:
    """The per-host recap, each host's last failure message (ignored failures left out) and the
    hosts whose facts file changed, from the events mlci's callback wrote."""
    hosts: dict[str, HostResult] = {}
    failures: dict[str, str] = {}
    switched: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run
        kind, host = event.get("event"), str(event.get("host", ""))
        if kind in ("failed", "unreachable") and not event.get("ignored"):
            failures[host] = str(event.get("msg", ""))
        elif kind == "changed" and str(event.get("task", "")).endswith(FACTS_TASK):
            switched.append(host)
        elif kind == "recap":
            counts = {k: int(event.get(k, 0)) for k in ("ok", "changed", "failures", "unreachable", "rescued")}
            hosts[host] = HostResult(
                host, counts["ok"], counts["changed"], counts["failures"], counts["unreachable"], counts["rescued"]
            )
    return hosts, failures, switched
