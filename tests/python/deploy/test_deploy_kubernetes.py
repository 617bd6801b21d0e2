"""`mlci deploy | rollback` on a `kubernetes` target, against kmock scripted as a cluster
(tests/python/deploy/kubesim.py: a contract test of the API exchanges, not a real cluster):
rollouts that progress, crash, cannot pull, pass their deadline; RBAC refusals; apply conflicts;
each strategy's traffic moves; rollback re-applies the last known good manifests."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubesim import Cluster, digest, running

from mlci import protocol

V1, V2 = digest("v1"), digest("v2")
SELECTOR = "mlci.io/slot"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with running(Cluster()) as c:
        yield c


def project(folder: Path, cluster: Cluster, strategy: str = "rolling", extra: str = "") -> Path:
    kubeconfig = cluster.kubeconfig(folder)
    (folder / "holdout.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n", encoding="utf-8")
    config = folder / ".mlci.yml"
    config.write_text(
        textwrap.dedent(f"""\
            version: 1
            model: {{name: churn, task: classification, target: label}}
            data: {{holdout: holdout.csv}}
            deploy:
              - name: cloud
                type: kubernetes
                environment: staging
                strategy: {strategy}
                namespace: ml
                canary_steps: [20, 50, 100]
                canary_interval_seconds: 1
                smoke: {{rows: 3, batch_rows: 2}}
                kubernetes:
                  kubeconfig: {kubeconfig}
                  poll_seconds: 0.01
                  replicas: 3
            """)
        + textwrap.indent(textwrap.dedent(extra), " " * 6),  # more keys under `kubernetes:`
        encoding="utf-8",
    )
    return config


def run(command: str, config: Path, **params: Any) -> tuple[int, dict[str, Any]]:
    return protocol.execute(command, {"configFile": str(config), "target": "cloud", **params})


def deployment_image(cluster: Cluster, name: str) -> str | None:
    obj = cluster.objects.get(("deployments", name))
    return None if obj is None else str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def bad_second_deploy(config: Path, cluster: Cluster, behaviour: str) -> tuple[int, dict[str, Any]]:
    """v1 deploys fine; v2 then behaves as told and must fail the step."""
    assert run("deploy", config, image=V1)[0] == 0
    cluster.behaviour[V2] = behaviour
    code, result = run("deploy", config, image=V2)
    assert code == 1, result["summary"]
    return code, result


def known_good(cluster: Cluster) -> dict[str, Any]:
    cm = cluster.objects[("configmaps", "churn-mlci-last-good")]
    return {k: json.loads(v) for k, v in cm["data"].items()}


# ---------------------------------------------------------------- rolling


def test_rolling_deploy_applies_server_side_waits_and_records_known_good(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster)
    code, result = run("deploy", config, image=V1)
    assert code == 0, result["summary"]
    assert result["outputs"]["hosts"] == {"churn": "changed"}
    assert {(p, n) for p, n, _ in cluster.applies} >= {
        ("deployments", "churn"),
        ("services", "churn"),
        ("poddisruptionbudgets", "churn"),
        ("configmaps", "churn-mlci-last-good"),
    }
    assert all(q["fieldManager"] == "mlci" for _, _, q in cluster.applies)
    # Deploys never force: a field someone else changed is a conflict, not silently taken.
    assert all(q.get("force") != "true" for p, _, q in cluster.applies if p == "deployments")
    status = cluster.objects[("deployments", "churn")]["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == 3
    assert deployment_image(cluster, "churn") == V1
    record = known_good(cluster)
    assert "previous" not in record
    assert record["current"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == V1


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("crash", "CrashLoopBackOff, last exit 1 (Error)"),
        ("pull", "ImagePullBackOff: Back-off pulling image"),
        ("unschedulable", "exceeded its progress deadline"),
        ("wrong", "response schema: expected 2 predictions, got 1"),
    ],
)
def test_a_bad_rollout_fails_and_the_known_good_manifest_comes_back(
    tmp_path: Path, cluster: Cluster, behaviour: str, reason: str
) -> None:
    _, result = bad_second_deploy(project(tmp_path, cluster), cluster, behaviour)
    assert reason in result["summary"]
    assert "restored" not in result["summary"]  # restoring worked, so nothing to add
    assert result["outputs"]["rolledBack"] == ["churn"]
    assert deployment_image(cluster, "churn") == V1
    # The restore takes fields back (force) and the record still names v1 only.
    assert any(p == "deployments" and q.get("force") == "true" for p, _, q in cluster.applies)
    assert "previous" not in known_good(cluster)


def test_the_first_deploy_failing_has_nothing_to_restore(tmp_path: Path, cluster: Cluster) -> None:
    cluster.behaviour[V1] = "crash"
    code, result = run("deploy", project(tmp_path, cluster), image=V1)
    assert code == 1
    assert "no known good version recorded yet" in result["summary"]
    assert ("configmaps", "churn-mlci-last-good") not in cluster.objects


def test_rollback_reapplies_the_previous_known_good_manifests(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster)
    assert run("deploy", config, image=V1)[0] == 0
    assert run("deploy", config, image=V2)[0] == 0
    assert known_good(cluster)["previous"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == V1
    code, result = run("rollback", config)
    assert code == 0, result["summary"]
    assert deployment_image(cluster, "churn") == V1
    record = known_good(cluster)
    assert record["current"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == V1
    assert record["previous"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == V2


def test_rollback_without_a_previous_version_fails_and_says_so(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster)
    assert run("deploy", config, image=V1)[0] == 0
    code, result = run("rollback", config)
    assert code == 1
    assert "holds no previous version" in result["summary"]


# ---------------------------------------------------------------- blue-green


def test_blue_green_gates_the_idle_slot_then_moves_the_selector(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster, "blue-green")
    assert run("deploy", config, image=V1)[0] == 0
    assert cluster.objects[("services", "churn")]["spec"]["selector"][SELECTOR] == "blue"
    first = len(cluster.applies)
    code, result = run("deploy", config, image=V2)
    assert code == 0, result["summary"]
    assert cluster.objects[("services", "churn")]["spec"]["selector"][SELECTOR] == "green"
    assert deployment_image(cluster, "churn-green") == V2
    assert deployment_image(cluster, "churn-blue") == V1  # kept for keep_previous_minutes
    # The main Service moved after the new slot was ready and smoke-tested through the preview.
    order = [(p, n) for p, n, _ in cluster.applies[first:]]
    assert order.index(("deployments", "churn-green")) < order.index(("services", "churn-preview"))
    assert order.index(("services", "churn-preview")) < order.index(("services", "churn"))
    # Rolling back is switching back to the slot that still runs v1.
    assert run("rollback", config)[0] == 0
    assert cluster.objects[("services", "churn")]["spec"]["selector"][SELECTOR] == "blue"


def test_blue_green_with_a_bad_build_never_moves_traffic(tmp_path: Path, cluster: Cluster) -> None:
    _, result = bad_second_deploy(project(tmp_path, cluster, "blue-green"), cluster, "wrong")
    assert "smoke test through Service churn-preview" in result["summary"]
    assert cluster.objects[("services", "churn")]["spec"]["selector"][SELECTOR] == "blue"
    assert ("deployments", "churn-green") in cluster.deletes


# ---------------------------------------------------------------- canary


def test_canary_steps_are_judged_by_the_metric_gate_then_promoted(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster, "canary")
    assert run("deploy", config, image=V1)[0] == 0  # no stable yet: a plain rollout
    code, result = run("deploy", config, image=V2)
    assert code == 0, result["summary"]
    canary_applies = [q for p, n, q in cluster.applies if n == "churn-canary"]
    assert len(canary_applies) == 2  # 20% and 50%
    assert deployment_image(cluster, "churn") == V2
    assert ("deployments", "churn-canary") in cluster.deletes
    assert any(name.startswith("churn-canary") for name in cluster.scrapes)


def test_a_canary_with_errors_is_removed_and_stable_keeps_serving(tmp_path: Path, cluster: Cluster) -> None:
    _, result = bad_second_deploy(project(tmp_path, cluster, "canary"), cluster, "errors")
    assert "canary at 20%: gate failed" in result["summary"]
    assert "error rate 5.00%" in result["summary"]
    assert deployment_image(cluster, "churn") == V1
    assert ("deployments", "churn-canary") not in cluster.objects


# ---------------------------------------------------------------- the cluster says no


@pytest.mark.parametrize(
    ("verb", "resource", "words"),
    [
        ("patch", "deployments", "cannot patch deployments.apps churn in namespace ml"),
        ("list", "pods", "cannot list pods in namespace ml"),
        ("create", "services/proxy", "cannot post (proxy) services/proxy churn:http"),
    ],
)
def test_rbac_forbidden_is_an_infrastructure_error_naming_verb_and_resource(
    tmp_path: Path, cluster: Cluster, verb: str, resource: str, words: str
) -> None:
    cluster.forbidden.add((verb, resource))
    code, result = run("deploy", project(tmp_path, cluster), image=V1)
    assert code == 3, result["summary"]
    assert "forbidden" in result["summary"] and words in result["summary"]
    assert "docs/kubernetes.md#rbac" in result["summary"]


def test_losing_the_cluster_mid_canary_takes_the_canary_out_of_traffic(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster, "canary")
    assert run("deploy", config, image=V1)[0] == 0
    cluster.forbidden.add(("get", "pods/proxy"))
    code, result = run("deploy", config, image=V2)
    assert code == 3
    assert "cannot get (proxy) pods/proxy churn-canary" in result["summary"]
    assert ("deployments", "churn-canary") in cluster.deletes
    assert deployment_image(cluster, "churn") == V1


def test_an_apply_conflict_names_the_field_and_its_manager(tmp_path: Path, cluster: Cluster) -> None:
    cluster.conflicts.add("deployments")
    code, result = run("deploy", project(tmp_path, cluster), image=V1)
    assert code == 3
    assert (
        'conflict: patch deployments.apps churn in namespace ml: .spec.template.spec.containers[name="model"]'
        in (result["summary"])
    )
    assert "kubectl-edit" in result["summary"]


def test_a_missing_namespace_is_named(tmp_path: Path, cluster: Cluster) -> None:
    cluster.namespace = "other"
    code, result = run("deploy", project(tmp_path, cluster), image=V1)
    assert code == 3
    assert "namespace ml not found" in result["summary"]


def test_a_missing_kubeconfig_or_context_is_an_infrastructure_error(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster)
    config.write_text(
        config.read_text().replace(f"kubeconfig: {tmp_path / 'kubeconfig'}", "kubeconfig: nowhere.yaml"),
        encoding="utf-8",
    )
    code, result = run("deploy", config, image=V1)
    assert code == 3
    assert "nowhere.yaml not found" in result["summary"] and "kubeconfigCredentialsId" in result["summary"]
    config = project(tmp_path, cluster)
    config.write_text(config.read_text().replace("poll_seconds", "context: staging\n      poll_seconds"))
    code, result = run("deploy", config, image=V1)
    assert code == 3
    assert "context 'staging'" in result["summary"]


def test_bad_input_is_refused_before_the_cluster_is_touched(tmp_path: Path, cluster: Cluster) -> None:
    config = project(tmp_path, cluster)
    code, result = run("deploy", config, image="registry.example/churn:latest")
    assert code == 2 and "not pinned by digest" in result["summary"]
    config.write_text(config.read_text().replace("    namespace: ml\n", ""))
    code, result = run("deploy", config, image=V1)
    assert code == 2 and "namespace is required" in result["summary"]
    config = project(
        tmp_path,
        cluster,
        "canary",
        extra="""\
          patches:
            - kind: Deployment
              patch: {spec: {template: {spec: {containers: [{name: model, securityContext: {privileged: true}}]}}}}
        """,
    )
    code, result = run("deploy", config, image=V1)
    assert code == 2, result["summary"]
    assert "privileged: must be unset or false" in result["summary"]
    assert cluster.calls == 0


# ---------------------------------------------------------------- kubectl's rollout status rules


def _deployment(generation: int, observed: int, wanted: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "churn", "generation": generation},
        "spec": {"replicas": wanted},
        "status": {"observedGeneration": observed, **status},
    }


@pytest.mark.parametrize(
    ("deployment", "done", "message"),
    [
        (_deployment(2, 1, 3, replicas=3, updatedReplicas=3, availableReplicas=3), False, "to be observed"),
        (_deployment(2, 2, 3, replicas=4, updatedReplicas=1, availableReplicas=3), False, "1 of 3 new replicas"),
        (_deployment(2, 2, 3, replicas=4, updatedReplicas=3, availableReplicas=3), False, "1 old replicas pending"),
        (_deployment(2, 2, 3, replicas=3, updatedReplicas=3, availableReplicas=2), False, "2 of 3 updated replicas"),
        (_deployment(2, 2, 3, replicas=3, updatedReplicas=3, availableReplicas=3), True, "successfully rolled out"),
    ],
)
def test_rollout_status_follows_kubectl(deployment: dict[str, Any], done: bool, message: str) -> None:
    from mlci.deploy.kubernetes import rollout_status

    got_done, got_message = rollout_status(deployment)
    assert got_done is done and message in got_message


def test_a_passed_progress_deadline_fails_the_rollout() -> None:
    from mlci.deploy.kubernetes import RolloutFailed, rollout_status

    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        rollout_status(_deployment(2, 2, 3, replicas=3, updatedReplicas=1, conditions=[deadline]))
