"""Kubernetes manifests of a deploy target, rendered from `.mlci.yml` as plain dicts: the model
Deployment(s), Service(s), PodDisruptionBudget and an optional HorizontalPodAutoscaler.

The same function renders what `mlci deploy` applies and what `mlci k8s render` writes for
GitOps. The users' `kubernetes.patches` are merged last and the result must still pass Pod
Security `restricted` and pin every image by digest, or it is refused (exit 2).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.deploy import podsecurity
from mlci.errors import InputError

if TYPE_CHECKING:
    from mlci.config import Config, DeployTarget

NAME = "app.kubernetes.io/name"
SLOT = "mlci.io/slot"  # blue-green: which of the two Deployments a pod belongs to
TRACK = "mlci.io/track"  # rolling and canary: stable or canary pods behind one Service
IMAGE = "mlci.io/image"
MANAGED = {"app.kubernetes.io/managed-by": "mlci"}
# The image's server (mlci.image.context): port, user, and its probe endpoints (mlci.serving.app).
PORT = 8080
USER = 10001
READY_PATH = "/readyz"
LIVE_PATH = "/livez"
SLOTS = ("blue", "green")


def app_name(config: Config, target: DeployTarget) -> str:
    return target.service or config.model.name


def _meta(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**labels, **MANAGED}}


def deployment(
    config: Config, target: DeployTarget, image: str, name: str, labels: dict[str, str], replicas: int | None
) -> dict[str, Any]:
    k = target.kubernetes
    probe = {"httpGet": {"path": READY_PATH, "port": "http"}}
    resources: dict[str, Any] = {
        "requests": {"cpu": k.resources.cpu_request, "memory": k.resources.memory_request},
        "limits": {"memory": k.resources.memory_limit},
    }
    if k.resources.cpu_limit:
        resources["limits"]["cpu"] = k.resources.cpu_limit
    container: dict[str, Any] = {
        "name": "model",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [{"name": "MLCI_MODEL_NAME", "value": config.model.name}],
        "resources": resources,
        # Slow model loads get startup_seconds before liveness may restart the pod.
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": max(1, k.startup_seconds // 2)},
        "readinessProbe": {**probe, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2},
        "livenessProbe": {
            "httpGet": {"path": LIVE_PATH, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        # Endpoints drop a stopping pod a moment after the kubelet signals it: keep serving meanwhile.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(k.prestop_seconds)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir: HOME of the image
    }
    pod_labels = {**labels, **MANAGED}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": k.progress_deadline_seconds,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(PORT),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": k.prestop_seconds + 30,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": USER,
                    "runAsGroup": USER,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
            },
        },
    }
    if replicas is not None:  # with an autoscaler, spec.replicas is its field, not ours
        spec["replicas"] = replicas
    metadata = _meta(name, _namespace(target), labels)
    metadata["annotations"] = {IMAGE: image}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def service(target: DeployTarget, name: str, selector: dict[str, str], app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, _namespace(target), {NAME: app}),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _pdb(target: DeployTarget, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(app, _namespace(target), {NAME: app}),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {NAME: app}}},
    }


def _hpa(target: DeployTarget, app: str, deployment_name: str) -> dict[str, Any] | None:
    hpa = target.kubernetes.hpa
    if hpa is None:
        return None
    metrics: list[dict[str, Any]] = [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": hpa.cpu_utilization}},
        }
    ]
    if hpa.custom_metric:
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": hpa.custom_metric.name},
                    "target": {"type": "AverageValue", "averageValue": hpa.custom_metric.average_value},
                },
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(app, _namespace(target), {NAME: app}),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name},
            "minReplicas": hpa.min_replicas,
            "maxReplicas": hpa.max_replicas,
            "metrics": metrics,
        },
    }


def _namespace(target: DeployTarget) -> str:
    if not target.namespace:
        raise InputError(f"deploy target {target.name}: namespace is required for type kubernetes")
    return target.namespace


def _replicas(target: DeployTarget) -> int | None:
    return None if target.kubernetes.hpa else target.kubernetes.replicas


def render(config: Config, target: DeployTarget, image: str, slot: str | None = None) -> list[dict[str, Any]]:
    """The target's manifests for `image`, in apply order: workloads before the Services that
    route to them. Blue-green renders one `slot` (default blue) and points both Services at it."""
    app = app_name(config, target)
    objects: list[dict[str, Any] | None]
    if target.strategy == "blue-green":
        slot = slot or SLOTS[0]
        name = f"{app}-{slot}"
        labels = {NAME: app, SLOT: slot}
        objects = [
            deployment(config, target, image, name, labels, _replicas(target)),
            _pdb(target, app),
            _hpa(target, app, name),
            service(target, f"{app}-preview", labels, app),
            service(target, app, labels, app),
        ]
    else:
        labels = {NAME: app, TRACK: "stable"}
        objects = [
            deployment(config, target, image, app, labels, _replicas(target)),
            _pdb(target, app),
            _hpa(target, app, app),
            service(target, app, {NAME: app}, app),
        ]
    return checked(patched([o for o in objects if o is not None], target))


def canary(config: Config, target: DeployTarget, image: str, replicas: int) -> dict[str, Any]:
    """The canary Deployment: the stable one's pod template with the new image, `replicas` pods
    behind the same Service, so traffic splits by replica ratio."""
    app = app_name(config, target)
    manifest = deployment(config, target, image, f"{app}-canary", {NAME: app, TRACK: "canary"}, replicas)
    return checked(patched([manifest], target))[0]


def merge(base: Any, patch: Any) -> Any:
    """RFC 7386 merge patch, except that lists of named mappings merge item by item on `name`
    (as kubectl's strategic merge does for containers, env and volumes)."""
    if isinstance(patch, dict):
        out = dict(base) if isinstance(base, dict) else {}
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out.get(key), value)
        return out
    if isinstance(patch, list) and isinstance(base, list) and _named(patch) and _named(base):
        merged = [copy.deepcopy(item) for item in base]
        index = {item["name"]: i for i, item in enumerate(merged)}
        for item in patch:
            if item["name"] in index:
                merged[index[item["name"]]] = merge(merged[index[item["name"]]], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


# What a patch may not change: the object it was written for must stay that object.
IDENTITY = (("kind",), ("apiVersion",), ("metadata", "name"))
# Where each workload kind keeps its pod template; a kind not listed has none.
POD_SPECS = {
    "Deployment": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "ReplicationController": ("spec", "template"),
    "PodTemplate": ("template",),
}


def _at(manifest: Any, path: tuple[str, ...]) -> Any:
    node = manifest
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def patched(manifests: list[dict[str, Any]], target: DeployTarget) -> list[dict[str, Any]]:
    out = []
    for manifest in manifests:
        for i, p in enumerate(target.kubernetes.patches):
            if p.kind == manifest["kind"]:
                merged = merge(manifest, p.patch)
                for path in IDENTITY:
                    if _at(merged, path) != _at(manifest, path):
                        raise InputError(
                            f"kubernetes.patches[{i}] ({p.kind}): may not change {'.'.join(path)} "
                            f"(from {_at(manifest, path)!r} to {_at(merged, path)!r}); a patch amends the "
                            "object mlci renders"
                        )
                manifest = merged
        out.append(manifest)
    return out


def _templates(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod template in a manifest, by kind, and a `spec.template` in any other kind."""
    kind = manifest.get("kind")
    if kind == "Pod":
        return [("", {"metadata": manifest.get("metadata"), "spec": manifest.get("spec")})]
    paths = [POD_SPECS[kind]] if kind in POD_SPECS else []
    if ("spec", "template") not in paths and isinstance(_at(manifest, ("spec", "template")), dict):
        paths.append(("spec", "template"))
    found = []
    for path in paths:
        template = _at(manifest, path)
        if template is not None:
            found.append((".".join(path), template))
    return found


def checked(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse a pod template that breaks `restricted` or mlci's rules (exit 2, every reason)."""
    for manifest in manifests:
        name = f"{manifest.get('kind')} {_at(manifest, ('metadata', 'name'))}"
        for where, template in _templates(manifest):
            problems = podsecurity.shape_problems(template, where)
            if not problems:
                pod = template.get("spec") or {}
                annotations = _at(template, ("metadata", "annotations")) or {}
                problems = podsecurity.restricted_violations(pod, annotations) + podsecurity.mlci_violations(pod)
            if problems:
                raise InputError(
                    f"{name}: {len(problems)} Pod Security problem(s) after "
                    f"kubernetes.patches: {problems[0]} (see docs/kubernetes.md#pod-security)",
                    problems[1:],
                )
    return manifests


def write(manifests: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One YAML file per object, `<kind>-<name>.yaml`, for a GitOps repository."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for manifest in manifests:
        path = out_dir / f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths
