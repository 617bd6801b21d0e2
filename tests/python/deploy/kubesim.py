"""A Kubernetes API server for the backend's tests: kmock (a Kubernetes API mock server) serves
HTTP, and this module scripts what a cluster does behind it.

This is a contract test, not a cluster. No Kubernetes API server can be installed here, so the
exchanges follow the Kubernetes API reference and the object shapes it documents (Status
objects with reason and details for 403, 404 and 409; Deployment status and its Progressing
condition; pod container states): server-side apply as PATCH application/apply-patch+yaml with
?fieldManager, a deployment controller that observes a generation and adds new pods one at a
time, and a kubelet whose pods crash, fail to pull, never get scheduled, or serve `/invocations`
and `/metrics` through the API server's proxy. Nothing here was checked against a real cluster.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import yaml

USER = "system:serviceaccount:ci:mlci-deployer"
GROUPS = {"deployments": "apps", "poddisruptionbudgets": "policy", "horizontalpodautoscalers": "autoscaling"}
KINDS = {
    "Deployment": "deployments",
    "Service": "services",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "ConfigMap": "configmaps",
}
# image -> how its pods behave: good, crash, pull, unschedulable, errors (5% 5xx), wrong (bad answers)
GOOD = "good"


def digest(tag: str) -> str:
    """A digest reference that names its behaviour, e.g. registry/churn@sha256:<crash…>."""
    return f"registry.example/churn@sha256:{tag.encode().hex().ljust(64, '0')[:64]}"


@dataclass
class Cluster:
    namespace: str = "ml"
    behaviour: dict[str, str] = field(default_factory=dict)  # image digest -> behaviour
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource plural)
    conflicts: set[str] = field(default_factory=set)  # resource plurals whose apply answers 409
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (plural, name) -> object
    ticks: dict[str, int] = field(default_factory=dict)  # Deployment -> controller steps since its generation
    applies: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (plural, name, query)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    scrapes: dict[str, int] = field(default_factory=dict)
    calls: int = 0  # API requests of any kind
    old_pods: dict[str, tuple[str, int]] = field(default_factory=dict)  # Deployment -> (image, replicas) before
    url: str = ""

    # ------------------------------------------------------------ HTTP

    def handle(self, request: kmock.Request) -> Any:
        self.calls += 1
        if request.resource is None:
            raise kmock.KubernetesError(
                404, "NotFound", f"the server could not find the requested resource {request.url}"
            )
        plural, name, verb = request.resource.plural or "", request.name, str(request.method.value).lower()
        rbac_verb = {"patch": "patch", "get": "get" if name else "list", "delete": "delete", "post": "create"}[verb]
        sub = request.subresource or ""
        rbac_resource = f"{plural}/proxy" if sub.startswith("proxy") else plural
        if (rbac_verb, rbac_resource) in self.forbidden:
            self._forbid(rbac_verb, rbac_resource, name or "")
        if request.namespace != self.namespace and verb == "patch":
            raise kmock.KubernetesError(
                404,
                "NotFound",
                f'namespaces "{request.namespace}" not found',
                {"name": request.namespace, "kind": "namespaces"},
            )
        if sub.startswith("proxy"):
            return self._proxy(plural, name or "", sub[len("proxy") :], request)
        if verb == "patch":
            return self._apply(plural, name or "", request)
        if verb == "get" and name:
            return self._get(plural, name)
        if verb == "get":
            return self._list(plural, request.params.get("labelSelector", ""))
        if verb == "delete":
            return self._delete(plural, name or "")
        raise kmock.KubernetesError(405, "MethodNotAllowed", f"{verb} is not supported here")

    def _forbid(self, verb: str, resource: str, name: str) -> None:
        plural = resource.split("/")[0]
        group = GROUPS.get(plural, "")
        full = f"{plural}.{group}" if group else plural
        raise kmock.KubernetesError(
            403,
            "Forbidden",
            f'{full} "{name}" is forbidden: User "{USER}" cannot {verb} resource "{resource}" '
            f'in API group "{group}" in the namespace "{self.namespace}"',
            {"name": name, "group": group, "kind": plural},
        )

    def _not_found(self, plural: str, name: str) -> None:
        group = GROUPS.get(plural, "")
        full = f"{plural}.{group}" if group else plural
        raise kmock.KubernetesError(
            404, "NotFound", f'{full} "{name}" not found', {"name": name, "group": group, "kind": plural}
        )

    def _apply(self, plural: str, name: str, request: kmock.Request) -> Any:
        content_type = request.headers.get("Content-Type", "")
        if content_type != "application/apply-patch+yaml" or "fieldManager" not in request.params:
            raise kmock.KubernetesError(415, "UnsupportedMediaType", f"not a server-side apply: {content_type}")
        if plural in self.conflicts and request.params.get("force") != "true":
            field_path = '.spec.template.spec.containers[name="model"].resources.limits.memory'
            raise kmock.KubernetesError(
                409,
                "Conflict",
                f'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: {field_path}',
                {
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": 'conflict with "kubectl-edit" using apps/v1',
                            "field": field_path,
                        }
                    ]
                },
            )
        body = request.data if isinstance(request.data, dict) else yaml.safe_load(request.text)
        self.applies.append((plural, name, dict(request.params)))
        old = self.objects.get((plural, name))
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", self.namespace)
        meta["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{plural}-{name}"
        generation = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != obj.get("spec"):
            generation += 1
            if plural == "deployments":
                self.ticks[name] = 0
                if old is not None:
                    self.old_pods[name] = (_image(old), old["spec"].get("replicas", 1))
        meta["generation"] = generation
        if plural == "deployments":
            obj["status"] = copy.deepcopy((old or {}).get("status") or {"observedGeneration": 0})
        self.objects[(plural, name)] = obj
        return obj

    def _get(self, plural: str, name: str) -> Any:
        obj = self.objects.get((plural, name))
        if obj is None:
            self._not_found(plural, name)
        if plural == "deployments":
            self._control(name, obj)
        return obj

    def _delete(self, plural: str, name: str) -> Any:
        if (plural, name) not in self.objects:
            self._not_found(plural, name)
        self.deletes.append((plural, name))
        self.objects.pop((plural, name))
        return {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name, "kind": plural}}

    def _list(self, plural: str, selector: str) -> Any:
        if plural != "pods":
            raise kmock.KubernetesError(405, "MethodNotAllowed", "only pods are listed in these tests")
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        items = [p for p in self.pods() if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}

    # ------------------------------------------------------------ the controller and the kubelet

    def _control(self, name: str, dep: dict[str, Any]) -> None:
        """One step of the deployment controller per read: observe, then one new pod at a time."""
        tick = self.ticks[name] = self.ticks.get(name, 0) + 1
        spec, status = dep["spec"], dep["status"]
        want = spec.get("replicas", 1)
        behaviour = self.behaviour.get(_image(dep), GOOD)
        old = self.old_pods.get(name, ("", 0))[1]
        status["observedGeneration"] = dep["metadata"]["generation"]
        if behaviour in ("crash", "pull", "unschedulable"):
            status.update(replicas=old + 1, updatedReplicas=1, readyReplicas=old, availableReplicas=old)
            progressing = {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{name}-7d4b9c" is progressing.',
            }
            if behaviour == "unschedulable" and tick >= 3:
                progressing = {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{name}-7d4b9c" has timed out progressing.',
                }
            status["conditions"] = [progressing]
            return
        updated = min(want, tick)
        remaining_old = max(0, old - updated + 1) if updated < want and old else 0
        status.update(
            replicas=updated + remaining_old,
            updatedReplicas=updated,
            readyReplicas=updated + remaining_old,
            availableReplicas=updated + remaining_old,
        )
        reason = "NewReplicaSetAvailable" if updated == want else "ReplicaSetUpdated"
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": reason},
        ]
        if updated == want:
            self.old_pods.pop(name, None)

    def pods(self) -> list[dict[str, Any]]:
        out = []
        for (plural, name), dep in list(self.objects.items()):
            if plural != "deployments":
                continue
            template = dep["spec"]["template"]
            image = _image(dep)
            status = dep.get("status") or {}
            behaviour = self.behaviour.get(image, GOOD)
            for i in range(status.get("updatedReplicas", 0)):
                out.append(_pod(f"{name}-7d4b9c-{i}", template, image, behaviour, len(out)))
        return out

    def _proxy(self, plural: str, name: str, path: str, request: kmock.Request) -> Any:
        target = name.split(":")[0]
        if plural == "services":
            svc = self.objects.get(("services", target))
            if svc is None:
                self._not_found("services", target)
            selector = svc["spec"]["selector"]
            pods = [p for p in self.pods() if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())]
            if not pods:
                raise kmock.KubernetesError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
            image = pods[0]["spec"]["containers"][0]["image"]
        else:
            pod = next((p for p in self.pods() if p["metadata"]["name"] == target), None)
            if pod is None:
                self._not_found("pods", target)
            image = pod["spec"]["containers"][0]["image"]
        behaviour = self.behaviour.get(image, GOOD)
        if path == "/invocations":
            rows = len(request.data["dataframe_split"]["data"])
            if behaviour == "wrong":
                return {"predictions": [0] * (rows - 1)}
            return {"predictions": [0] * rows}
        if path == "/metrics":
            count = self.scrapes[target] = self.scrapes.get(target, 0) + 1
            return _metrics(count * 100, count * (5 if behaviour == "errors" else 0)).encode()
        raise kmock.KubernetesError(404, "NotFound", f"no route {path}")

    # ------------------------------------------------------------ running it

    def kubeconfig(self, folder: Path, context: str = "test") -> Path:
        path = folder / "kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "sim", "cluster": {"server": self.url}}],
                    "users": [{"name": "deployer", "user": {"token": "sim-token"}}],
                    "contexts": [{"name": context, "context": {"cluster": "sim", "user": "deployer"}}],
                    "current-context": context,
                }
            ),
            encoding="utf-8",
        )
        return path


def _image(dep: dict[str, Any]) -> str:
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def _pod(name: str, template: dict[str, Any], image: str, behaviour: str, index: int) -> dict[str, Any]:
    ready = behaviour not in ("crash", "pull", "unschedulable")
    state: dict[str, Any] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    last: dict[str, Any] = {}
    if behaviour == "crash":
        state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 40s restarting failed container=model pod={name}",
            }
        }
        last = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-01-01T00:00:00Z"}}
    elif behaviour == "pull":
        state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    statuses = (
        []
        if behaviour == "unschedulable"
        else [
            {
                "name": "model",
                "image": image,
                "imageID": "",
                "ready": ready,
                "restartCount": 3 if behaviour == "crash" else 0,
                "started": ready,
                "state": state,
                "lastState": last,
            }
        ]
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": dict(template["metadata"]["labels"])},
        "spec": copy.deepcopy(template["spec"]),
        "status": {
            "phase": "Pending" if behaviour in ("pull", "unschedulable") else "Running",
            "podIP": pod_ip(behaviour, index),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def pod_ip(behaviour: str, index: int) -> str:
    """Pods of an erroring image live in 10.42.1.0/24, all others in 10.42.0.0/24: a test can give
    a real Prometheus scrape targets by subnet (tests/python/deploy/test_deploy_kubernetes.py)."""
    return f"10.42.{1 if behaviour == 'errors' else 0}.{index + 10}"


def _metrics(requests: int, errors: int) -> str:
    """The model server's exposition (mlci.serving.metrics): counters and a latency histogram."""
    ok = requests - errors
    lines = [
        f'mlci_http_requests_total{{path="/invocations",status="200"}} {ok}',
        f'mlci_http_requests_total{{path="/invocations",status="500"}} {errors}',
    ]
    for le, share in (("0.005", 0.5), ("0.01", 0.9), ("0.025", 1.0), ("+Inf", 1.0)):
        lines.append(f'mlci_http_request_duration_seconds_bucket{{path="/invocations",le="{le}"}} {requests * share}')
    return "\n".join(lines) + "\n"


@contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    """Serve the cluster on 127.0.0.1 from a thread: the kubernetes client is synchronous."""
    started = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        async with kmock.KubernetesScaffold() as handler, kmock.Server(handler) as server:
            for method in ("get", "patch", "delete", "post"):
                handler[method] << cluster.handle
            cluster.url = str(server.url).rstrip("/")
            state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
            started.set()
            await state["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("kmock did not start")
    try:
        yield cluster
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)
