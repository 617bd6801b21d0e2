"""The Kubernetes backend: manifests rendered from `.mlci.yml` (deploy/manifests.py), applied
server-side, watched the way `kubectl rollout status` watches, gated, and rolled back by
re-applying the last known good manifests.

The last known good state lives in a ConfigMap `<app>-mlci-last-good` (current and previous
manifest sets), written only after every gate passed. Not an annotation on the Deployment:
the apply being judged would overwrite it, blue-green slots come and go, and a ConfigMap can be
read (`kubectl get cm -o yaml`) and permitted (RBAC resourceNames) on its own.

Strategies: rolling (one Deployment, RollingUpdate maxUnavailable 0 / maxSurge 1); blue-green
(a Deployment per slot, a preview Service smoke-tested before the main Service's selector moves
in one call); canary (a canary Deployment behind the same Service, traffic split by replica
ratio, each step judged by deploy/gate.py on the pods' own metrics, then promoted).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import log, masking
from mlci.deploy import gate, manifests, smoke
from mlci.deploy.kubeapi import KubeApi, kubeconfig_path
from mlci.deploy.outcome import HostResult, Outcome
from mlci.errors import InputError, MlciError

if TYPE_CHECKING:
    from mlci.config import Config, DeployTarget

# Pod states that never heal on their own: fail the rollout now, not at the progress deadline.
STUCK = {"CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}


def rollout_status(deployment: dict[str, Any]) -> tuple[bool, str]:
    """(done, message) the way kubectl's DeploymentStatusViewer computes it; a Deployment past
    its progress deadline raises RolloutFailed."""
    meta, spec, status = deployment["metadata"], deployment.get("spec", {}), deployment.get("status") or {}
    name = meta["name"]
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return False, f"waiting for the spec update of {name} to be observed"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutFailed(f"Deployment {name} exceeded its progress deadline: {cond.get('message', '')}".strip())
    replicas = spec.get("replicas")
    updated = status.get("updatedReplicas", 0)
    if replicas is not None and updated < replicas:
        return False, f"{name}: {updated} of {replicas} new replicas updated"
    if status.get("replicas", 0) > updated:
        return False, f"{name}: {status['replicas'] - updated} old replicas pending termination"
    available = status.get("availableReplicas", 0)
    if available < updated:
        return False, f"{name}: {available} of {updated} updated replicas available"
    if not available:  # kubectl calls 0 of 0 rolled out; a deploy that serves nothing is not
        raise RolloutFailed(f"Deployment {name} rolled out with no replica available: nothing serves the model")
    return True, f"{name} successfully rolled out"


def stuck_pod(pods: list[dict[str, Any]], image: str) -> str | None:
    """The first pod of the new version whose container waits in a state that never heals."""
    for pod in pods:
        if not any(c.get("image") == image for c in pod.get("spec", {}).get("containers", [])):
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                last = ((cs.get("lastState") or {}).get("terminated")) or {}
                why = f", last exit {last.get('exitCode')} ({last.get('reason')})" if last else ""
                return (
                    f"pod {pod['metadata']['name']} container {cs.get('name')}: {waiting['reason']}"
                    f"{why}: {waiting.get('message', '')}".rstrip(": ")
                )
    return None


class RolloutFailed(Exception):
    pass


class KubernetesBackend:
    def __init__(self, config: Config, target: DeployTarget, project_dir: Path, report_dir: Path) -> None:
        if not target.namespace:
            raise InputError(f"deploy target {target.name}: namespace is required for type kubernetes")
        self.config = config
        self.target = target
        self.project_dir = project_dir
        self.report_dir = report_dir
        self.app = manifests.app_name(config, target)
        self.record_name = f"{self.app}-mlci-last-good"
        self._api: KubeApi | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            k = self.target.kubernetes
            self._api = KubeApi(str(self.target.namespace), kubeconfig_path(k.kubeconfig, self.project_dir), k.context)
        return self._api

    # ------------------------------------------------------------ entry points

    def deploy(self, image: str, smoke_payload: dict[str, Any], expected: list[Any]) -> Outcome:
        started = time.monotonic()
        rows = _rows(smoke_payload, expected)
        manifests.render(self.config, self.target, image)  # bad input fails before the cluster is asked anything
        strategy = self.target.strategy
        if strategy == "canary" and self.api.get("Deployment", self.app) is None:
            log.info(f"no stable Deployment {self.app} yet: the first deploy rolls out without canary steps")
            strategy = "rolling"
        run = {"rolling": self._rolling, "blue-green": self._blue_green, "canary": self._canary}[strategy]
        outcome = run(image, rows)
        outcome.seconds = time.monotonic() - started
        outcome.transcripts.append(self._report(image, outcome))
        return outcome

    def rollback(self, smoke_payload: dict[str, Any] | None = None) -> Outcome:
        started = time.monotonic()
        self.report_dir.mkdir(parents=True, exist_ok=True)
        record = self._record()
        previous = record.get("previous")
        if not previous:
            return Outcome(False, f"nothing to roll back to: ConfigMap {self.record_name} holds no previous version")
        reason = self._restore(previous)
        if reason:
            return Outcome(False, f"rollback failed: {reason}", self._hosts(previous, failed=True))
        self.api.delete("Deployment", f"{self.app}-canary")
        self._save(previous, record.get("current"))
        log.info(f"{self.target.name} back on {_images(previous)}")
        return Outcome(True, "", self._hosts(previous), time.monotonic() - started, switched=[self.app])

    # ------------------------------------------------------------ strategies

    def _rolling(self, image: str, rows: smoke.Rows) -> Outcome:
        objects = manifests.render(self.config, self.target, image)
        self._apply_all(objects)
        reason = self._wait(self.app, image) or self._smoke(self.app, rows)
        if reason:
            return self._failed(reason, objects, restore=True)
        self._remember(objects)
        return Outcome(True, "", self._hosts(objects), switched=[self.app])

    def _blue_green(self, image: str, rows: smoke.Rows) -> Outcome:
        main = self.api.get("Service", self.app)
        active = ((main or {}).get("spec", {}).get("selector") or {}).get(manifests.SLOT)
        slot = manifests.SLOTS[1] if active == manifests.SLOTS[0] else manifests.SLOTS[0]
        objects = manifests.render(self.config, self.target, image, slot)
        deployment, preview = f"{self.app}-{slot}", f"{self.app}-preview"
        # The idle slot and its preview Service first; the main Service and the autoscaler
        # follow the switch.
        early = [o for o in objects if o["kind"] in ("Deployment", "PodDisruptionBudget") or _named(o, preview)]
        self._apply_all(early)
        reason = self._wait(deployment, image) or self._smoke(preview, rows)
        if reason:
            self.api.delete("Deployment", deployment)  # the idle slot never took traffic
            return self._failed(f"{reason} (slot {slot} removed, traffic stays on {active or 'nothing'})", objects)
        self._apply_all([o for o in objects if o not in early])  # one apply moves the main selector
        log.info(f"{self.app}: traffic switched to slot {slot}")
        if active and self.target.keep_previous_minutes == 0:
            self.api.delete("Deployment", f"{self.app}-{active}")
        self._remember(objects)
        return Outcome(True, "", self._hosts(objects), switched=[deployment])

    def _canary(self, image: str, rows: smoke.Rows) -> Outcome:
        stable = self.api.get("Deployment", self.app) or {}
        total = int(stable.get("spec", {}).get("replicas") or self.target.kubernetes.replicas)
        name = f"{self.app}-canary"
        try:
            failed = self._canary_steps(image, name, total)
        except MlciError:
            # The cluster stopped answering mid-way: take the canary out of traffic if it still can.
            with contextlib.suppress(MlciError):
                self.api.delete("Deployment", name)
            raise
        if failed:
            return failed
        objects = manifests.render(self.config, self.target, image)
        self._apply_all(objects)
        reason = self._wait(self.app, image)
        self.api.delete("Deployment", name)
        if reason:
            return self._failed(f"promotion: {reason}", objects, restore=True)
        self._remember(objects)
        return Outcome(True, "", self._hosts(objects), switched=[self.app])

    def _canary_steps(self, image: str, name: str, total: int) -> Outcome | None:
        """Each step below 100%: the canary at its replica share, then a judged window."""
        for percent in self.target.canary_steps:
            if percent >= 100:
                break
            # Traffic follows pods: at least `percent` of them run the canary.
            replicas = max(1, math.ceil(total * percent / (100 - percent)))
            share = replicas / (replicas + total) * 100
            log.info(f"canary step {percent}%: {replicas} canary pod(s) beside {total} stable ({share:.0f}% of pods)")
            self.api.apply(manifests.canary(self.config, self.target, image, replicas))
            reason = self._wait(name, image) or self._judge()
            if reason:
                self.api.delete("Deployment", name)
                return Outcome(
                    False,
                    f"canary at {percent}%: {reason}; canary removed, all traffic on stable",
                    {name: HostResult(name, failed=1)},
                    rolled_back=[name],
                )
        return None

    # ------------------------------------------------------------ pieces

    def _apply_all(self, objects: list[dict[str, Any]], force: bool = False) -> None:
        for obj in objects:
            log.info(f"apply {obj['kind']} {obj['metadata']['name']} (server-side, field manager mlci)")
            self.api.apply(obj, force=force)

    def _wait(self, name: str, image: str) -> str | None:
        """None once the Deployment rolled out, else why it never will."""
        k = self.target.kubernetes
        limit = time.monotonic() + k.progress_deadline_seconds + 60
        said = ""
        while True:
            deployment = self.api.get("Deployment", name)
            if deployment is None:
                return f"Deployment {name} disappeared during the rollout"
            try:
                done, message = rollout_status(deployment)
            except RolloutFailed as err:
                return str(err)
            if message != said:
                log.info(message)
                said = message
            selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
            stuck = stuck_pod(self.api.pods(selector), image)
            if stuck:
                return stuck
            if done:
                return None
            if time.monotonic() > limit:
                return f"Deployment {name} not rolled out after {k.progress_deadline_seconds + 60} s: {message}"
            time.sleep(k.poll_seconds)

    def _smoke(self, service: str, rows: smoke.Rows) -> str | None:
        def send(payload: dict[str, Any]) -> tuple[int, bytes]:
            return self.api.proxy("services", f"{service}:http", "/invocations", payload)

        checks = smoke.check_with(send, rows, self.target.smoke)
        failed = [c for c in checks if not c.passed]
        log.info(f"smoke test through Service {service}: {len(checks) - len(failed)} of {len(checks)} passed")
        return f"smoke test through Service {service}: {failed[0].name}: {failed[0].message}" if failed else None

    def _judge(self) -> str | None:
        """One canary window through the metric gate: canary pods against stable pods."""
        seconds = self.target.canary_interval_seconds
        tracks = {t: self._ready_pods(t) for t in ("canary", "stable")}
        prometheus = self.config.monitoring.prometheus_url
        if prometheus:
            time.sleep(seconds)
            instances = {t: [f"{p['status']['podIP']}:{manifests.PORT}" for p in pods] for t, pods in tracks.items()}
            candidate = gate.from_prometheus(prometheus, instances["canary"], seconds)
            stable = gate.from_prometheus(prometheus, instances["stable"], seconds)
        else:  # the pods' own /metrics through the API server, before and after the window
            before = {t: [self._scrape(p) for p in pods] for t, pods in tracks.items()}
            time.sleep(seconds)
            after = {t: [self._scrape(p) for p in pods] for t, pods in tracks.items()}
            candidate, stable = (gate.from_metrics(zip(before[t], after[t], strict=True)) for t in ("canary", "stable"))
        verdict = gate.evaluate(candidate, stable, gate.Slo.from_dict(self.target.slo.model_dump()))
        log.info(verdict.summary)
        return None if verdict.passed else verdict.summary

    def _ready_pods(self, track: str) -> list[dict[str, Any]]:
        pods = self.api.pods({manifests.NAME: self.app, manifests.TRACK: track})
        return [
            p
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]

    def _scrape(self, pod: dict[str, Any]) -> str:
        status, body = self.api.proxy("pods", f"{pod['metadata']['name']}:{manifests.PORT}", "/metrics")
        return body.decode(errors="replace") if status == 200 else ""  # no data never passes the gate

    def _failed(self, reason: str, objects: list[dict[str, Any]], restore: bool = False) -> Outcome:
        outcome = Outcome(False, reason, self._hosts(objects, failed=True))
        if not restore:
            return outcome
        known = self._record().get("current")
        if not known:
            outcome.message += "; no known good version recorded yet, nothing restored"
            return outcome
        log.info(f"restoring the last known good version ({_images(known)})")
        again = self._restore(known)
        if again:
            outcome.message += f"; restoring the last known good version failed too: {again}"
        else:
            outcome.rolled_back = [self.app]
        return outcome

    def _restore(self, objects: list[dict[str, Any]]) -> str | None:
        """Re-apply a recorded manifest set (taking back fields others changed), workloads first."""
        workloads = [o for o in objects if o["kind"] != "Service"]
        self._apply_all(workloads, force=True)
        for obj in workloads:
            if obj["kind"] == "Deployment":
                reason = self._wait(obj["metadata"]["name"], _images([obj]))
                if reason:
                    return reason
        self._apply_all([o for o in objects if o["kind"] == "Service"], force=True)
        return None

    def _record(self) -> dict[str, Any]:
        cm = self.api.get("ConfigMap", self.record_name) or {}
        return {k: json.loads(v) for k, v in (cm.get("data") or {}).items()}

    def _remember(self, objects: list[dict[str, Any]]) -> None:
        """After every gate passed: these manifests are the known good state."""
        self._save(objects, self._record().get("current"))

    def _save(self, current: list[dict[str, Any]], previous: list[dict[str, Any]] | None) -> None:
        data = {"current": json.dumps(current)}
        if previous:
            data["previous"] = json.dumps(previous)
        self.api.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.record_name,
                    "namespace": self.target.namespace,
                    "labels": {manifests.NAME: self.app, **manifests.MANAGED},
                },
                "data": data,
            },
            force=True,
        )

    def _hosts(self, objects: list[dict[str, Any]], failed: bool = False) -> dict[str, HostResult]:
        names = [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]
        return {n: HostResult(n, changed=0 if failed else 1, failed=1 if failed else 0) for n in names}

    def _report(self, image: str, outcome: Outcome) -> Path:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        path = self.report_dir / f"kubernetes-{self.target.name}.json"
        record = {"namespace": self.target.namespace, "image": image, "lastKnownGood": self.record_name}
        return masking.write_json(path, {**record, **outcome.as_dict()})


def _named(obj: dict[str, Any], name: str) -> bool:
    return bool(obj["metadata"]["name"] == name)


def _images(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj["kind"] == "Deployment":
            return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])
    return "no Deployment"


def _rows(payload: dict[str, Any], expected: list[Any]) -> smoke.Rows:
    split = payload["dataframe_split"]
    return smoke.Rows(split["columns"], split["data"], expected)
