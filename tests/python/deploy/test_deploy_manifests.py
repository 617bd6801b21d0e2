"""Rendered Kubernetes manifests, without any server: each deserialises into the kubernetes
client's own models (which reject unknown fields) and its pod template passes Pod Security
`restricted`; users' patches merge, and a patch that weakens the pod is refused."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubesim import digest

from mlci import config
from mlci.deploy import manifests, podsecurity
from mlci.errors import InputError

IMAGE = digest("v1")
TARGET = {
    "name": "cloud",
    "type": "kubernetes",
    "environment": "production",
    "namespace": "ml",
}


def load(tmp_path: Path, strategy: str = "rolling", kubernetes: dict[str, Any] | None = None) -> config.LoadedConfig:
    target = {**TARGET, "strategy": strategy, "kubernetes": kubernetes or {}}
    path = tmp_path / ".mlci.yml"
    path.write_text(
        yaml.safe_dump({"version": 1, "model": {"name": "churn", "task": "classification"}, "deploy": [target]}),
        encoding="utf-8",
    )
    return config.load(path)


def render(tmp_path: Path, strategy: str = "rolling", **kubernetes: Any) -> list[dict[str, Any]]:
    loaded = load(tmp_path, strategy, kubernetes)
    return manifests.render(loaded.config, loaded.config.deploy[0], IMAGE)


def as_model(manifest: dict[str, Any]) -> Any:
    from kubernetes import client

    model = {
        ("apps/v1", "Deployment"): client.V1Deployment,
        ("v1", "Service"): client.V1Service,
        ("policy/v1", "PodDisruptionBudget"): client.V1PodDisruptionBudget,
        ("autoscaling/v2", "HorizontalPodAutoscaler"): client.V2HorizontalPodAutoscaler,
    }[(manifest["apiVersion"], manifest["kind"])]
    return model.from_dict(copy.deepcopy(manifest))


HPA = {"hpa": {"min_replicas": 2, "max_replicas": 6, "custom_metric": {"name": "mlci_inflight", "average_value": "8"}}}


@pytest.mark.parametrize(("strategy", "options"), [("rolling", {}), ("blue-green", HPA), ("canary", {})])
def test_every_manifest_is_a_valid_object_and_every_pod_is_restricted(
    tmp_path: Path, strategy: str, options: dict[str, Any]
) -> None:
    rendered = render(tmp_path, strategy, **options)
    loaded = load(tmp_path, strategy, options)
    if strategy == "canary":
        rendered.append(manifests.canary(loaded.config, loaded.config.deploy[0], IMAGE, 1))
    kinds = [m["kind"] for m in rendered]
    assert {"Deployment", "Service", "PodDisruptionBudget"} <= set(kinds)
    for manifest in rendered:
        model = as_model(manifest)
        assert model.metadata.namespace == "ml"
        assert model.metadata.labels["app.kubernetes.io/managed-by"] == "mlci"
        if manifest["kind"] == "Deployment":
            pod = manifest["spec"]["template"]["spec"]
            assert podsecurity.restricted_violations(pod) == []
            assert podsecurity.mlci_violations(pod) == []
    # Workloads first, the Services that route to them last.
    assert kinds.index("Deployment") < kinds.index("Service")


def test_the_deployment_rolls_without_losing_capacity_and_probes_the_server(tmp_path: Path) -> None:
    deployment = as_model(render(tmp_path)[0])
    assert deployment.spec.replicas == 2
    assert deployment.spec.strategy.rolling_update.max_unavailable == 0
    assert deployment.spec.strategy.rolling_update.max_surge == 1
    pod = deployment.spec.template
    assert pod.metadata.annotations["prometheus.io/scrape"] == "true"
    assert pod.metadata.annotations["prometheus.io/port"] == "8080"
    assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
    (container,) = pod.spec.containers
    assert container.image == IMAGE
    assert container.ports[0].container_port == 8080
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.liveness_probe.http_get.path == "/livez"
    assert container.startup_probe.http_get.path == "/readyz"
    assert container.startup_probe.failure_threshold * container.startup_probe.period_seconds == 120
    assert container.lifecycle.pre_stop.var_exec.command == ["sleep", "5"]
    assert container.resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert container.security_context.read_only_root_filesystem is True
    assert pod.spec.termination_grace_period_seconds > 5


def test_with_an_autoscaler_the_deployment_leaves_replicas_to_it(tmp_path: Path) -> None:
    rendered = {m["kind"]: m for m in render(tmp_path, **HPA)}
    assert "replicas" not in rendered["Deployment"]["spec"]
    hpa = as_model(rendered["HorizontalPodAutoscaler"])
    assert hpa.spec.scale_target_ref.name == "churn"
    assert [m.type for m in hpa.spec.metrics] == ["Resource", "Pods"]
    assert hpa.spec.metrics[1].pods.metric.name == "mlci_inflight"


def test_blue_green_points_the_main_and_preview_services_at_one_slot(tmp_path: Path) -> None:
    loaded = load(tmp_path, "blue-green")
    rendered = manifests.render(loaded.config, loaded.config.deploy[0], IMAGE, "green")
    services = {m["metadata"]["name"]: m["spec"]["selector"] for m in rendered if m["kind"] == "Service"}
    assert services == {
        "churn": {"app.kubernetes.io/name": "churn", "mlci.io/slot": "green"},
        "churn-preview": {"app.kubernetes.io/name": "churn", "mlci.io/slot": "green"},
    }
    assert rendered[0]["metadata"]["name"] == "churn-green"


def test_patches_merge_named_list_items_and_keep_the_rest(tmp_path: Path) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": {"pool": "cpu"},
                    "containers": [{"name": "model", "env": [{"name": "MLCI_MAX_BATCH_ROWS", "value": "200"}]}],
                }
            }
        }
    }
    deployment = render(tmp_path, patches=[{"kind": "Deployment", "patch": patch}])[0]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "cpu"}
    (container,) = pod["containers"]
    assert container["image"] == IMAGE  # untouched
    assert {e["name"] for e in container["env"]} == {"MLCI_MODEL_NAME", "MLCI_MAX_BATCH_ROWS"}


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"containers": [{"name": "model", "securityContext": {"privileged": True}}]}, "privileged"),
        ({"containers": [{"name": "model", "image": "registry.example/churn:latest"}]}, "not pinned by digest"),
        ({"hostNetwork": True}, "spec.hostNetwork"),
        ({"containers": [{"name": "model", "securityContext": {"runAsNonRoot": False}}]}, "runAsNonRoot: must be"),
    ],
)
def test_a_patch_that_weakens_the_pod_is_refused(tmp_path: Path, patch: dict[str, Any], problem: str) -> None:
    patches = [{"kind": "Deployment", "patch": {"spec": {"template": {"spec": patch}}}}]
    with pytest.raises(InputError, match="Pod Security") as caught:
        render(tmp_path, patches=patches)
    assert problem in " ".join([str(caught.value), *caught.value.details])


# The documented restricted rules, each broken once on an otherwise compliant pod.
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(pod: dict[str, Any]) -> None:
        node: Any = pod
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (_set("hostPID", True), "spec.hostPID"),
        (_set("hostIPC", True), "spec.hostIPC"),
        (_set("containers.0.securityContext.privileged", True), "privileged"),
        (_set("containers.0.securityContext.allowPrivilegeEscalation", True), "allowPrivilegeEscalation"),
        (_set("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}), "drop: must include ALL"),
        (_set("containers.0.securityContext.capabilities.add", ["SYS_ADMIN"]), "SYS_ADMIN not allowed"),
        (_set("containers.0.securityContext.runAsUser", 0), "runAsUser: must not be 0"),
        (_set("securityContext.seccompProfile", {"type": "Unconfined"}), "seccompProfile.type"),
        (_set("containers.0.securityContext.procMount", "Unmasked"), "procMount"),
        (_set("containers.0.securityContext.seLinuxOptions", {"type": "spc_t"}), "spc_t is not allowed"),
        (_set("containers.0.ports", [{"containerPort": 8080, "hostPort": 80}]), "hostPort"),
        (_set("volumes", [{"name": "host", "hostPath": {"path": "/"}}]), "hostPath is not allowed"),
        (_set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]), "not a safe sysctl"),
        (_set("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}), "appArmorProfile"),
    ],
)
def test_the_restricted_check_catches_each_documented_rule(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], rule: str
) -> None:
    pod = copy.deepcopy(render(tmp_path)[0]["spec"]["template"]["spec"])
    assert podsecurity.restricted_violations(pod) == []
    change(pod)
    problems = podsecurity.restricted_violations(pod)
    assert any(rule in p for p in problems), problems


def test_the_examples_kubernetes_targets_render_valid_restricted_manifests() -> None:
    loaded = config.load(Path(__file__).resolve().parents[3] / "examples" / "churn" / "kubernetes.mlci.yml")
    for target in loaded.config.deploy:
        for manifest in manifests.render(loaded.config, target, IMAGE):
            as_model(manifest)


def add_target(project: Path, target: dict[str, Any]) -> None:
    item = yaml.safe_dump(target, indent=4).replace("\n", "\n    ")
    (project / ".mlci.yml").write_text((project / ".mlci.yml").read_text() + "deploy:\n  - " + item, encoding="utf-8")


def test_k8s_render_writes_one_file_per_object(
    tmp_path: Path, mlci: Callable[..., subprocess.CompletedProcess[str]], project: Path
) -> None:
    add_target(project, TARGET)
    done = mlci("k8s", "render", "--image", IMAGE, "--out", "gitops")
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (project / "gitops").iterdir())
    assert files == ["deployment-demo.yaml", "poddisruptionbudget-demo.yaml", "service-demo.yaml"]
    assert as_model(yaml.safe_load((project / "gitops" / "deployment-demo.yaml").read_text())).spec.replicas == 2
    done = mlci("k8s", "render", "--image", "registry.example/demo:1.0", "--out", "gitops")
    assert done.returncode == 2 and "not pinned by digest" in done.stderr
    done = mlci("k8s", "render", "--target", "nope", "--image", IMAGE, "--out", "gitops")
    assert done.returncode == 2 and "no deploy target named 'nope'" in done.stderr


def test_an_autoscaler_with_min_above_max_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"deploy\[0\]\.kubernetes\.hpa: min_replicas \(5\) is above max_replicas"):
        load(tmp_path, kubernetes={"hpa": {"min_replicas": 5, "max_replicas": 3}})


PRIVILEGED = {"hostNetwork": True, "containers": [{"name": "model", "securityContext": {"privileged": True}}]}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": "DaemonSet", "spec": {"template": {"spec": PRIVILEGED}}}, "kind"),
        ({"kind": "Job"}, "kind"),
        ({"apiVersion": "apps/v1beta1"}, "apiVersion"),
        ({"metadata": {"name": "kube-proxy"}}, "metadata.name"),
        ({"metadata": None}, "metadata.name"),
    ],
)
def test_a_patch_may_not_change_what_object_it_is(tmp_path: Path, patch: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=rf"kubernetes.patches\[0\] \(Deployment\): may not change {field} "):
        render(tmp_path, patches=[{"kind": "Deployment", "patch": patch}])


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("DaemonSet", ("spec", "template")),
        ("StatefulSet", ("spec", "template")),
        ("Job", ("spec", "template")),
        ("CronJob", ("spec", "jobTemplate", "spec", "template")),
        ("ReplicaSet", ("spec", "template")),
    ],
)
def test_the_restricted_check_applies_to_every_pod_template(tmp_path: Path, kind: str, path: tuple[str, ...]) -> None:
    template = copy.deepcopy(render(tmp_path)[0]["spec"]["template"])
    manifest: dict[str, Any] = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "x"}}
    node = manifest
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = template
    assert manifests.checked([copy.deepcopy(manifest)])  # the rendered template passes anywhere
    template["spec"]["hostNetwork"] = True
    with pytest.raises(InputError, match=rf"{kind} x: 1 Pod Security problem\(s\) .*spec.hostNetwork"):
        manifests.checked([manifest])


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        (
            {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/model": "unconfined"}}},
            "AppArmor must be runtime/default",
        ),
        (
            {"spec": {"containers": [{"name": "model", "livenessProbe": {"httpGet": {"host": "10.0.0.1"}}}]}},
            "livenessProbe.httpGet.host: must be unset",
        ),
        (
            {"spec": {"containers": [{"name": "model", "lifecycle": {"preStop": {"tcpSocket": {"host": "db"}}}}]}},
            "lifecycle.preStop.tcpSocket.host: must be unset",
        ),
        ({"spec": {"containers": "model"}}, "spec.template.spec.containers: expected a list of mappings, got str"),
        ({"spec": {"volumes": {"data": {"hostPath": {}}}}}, "spec.template.spec.volumes: expected a list of mappings"),
        ({"spec": {"containers": [{"name": "model", "ports": "8080"}]}}, "ports: expected a list of mappings"),
        ({"spec": {"securityContext": ["root"]}}, "spec.template.spec.securityContext: expected a mapping"),
        ({"spec": {"containers": [{"name": "model", "securityContext": {"capabilities": "ALL"}}]}}, "not of the kind"),
    ],
)
def test_apparmor_unconfined_probe_hosts_and_malformed_patches_are_refused(
    tmp_path: Path, patch: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InputError, match="Pod Security") as caught:
        render(tmp_path, patches=[{"kind": "Deployment", "patch": {"spec": {"template": patch}}}])
    assert problem in " ".join([str(caught.value), *caught.value.details])


def test_k8s_render_refuses_a_patch_to_a_privileged_daemonset_with_exit_2(
    mlci: Callable[..., subprocess.CompletedProcess[str]], project: Path
) -> None:
    target = {**TARGET, "kubernetes": {"patches": [{"kind": "Deployment", "patch": {"kind": "DaemonSet"}}]}}
    add_target(project, target)
    done = mlci("k8s", "render", "--image", IMAGE, "--out", "gitops")
    assert done.returncode == 2, done.stderr
    assert "may not change kind" in done.stderr and "Traceback" not in done.stderr
    assert not (project / "gitops").exists()
