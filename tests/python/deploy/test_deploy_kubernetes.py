"""`mlci deploy | rollback` on a `kubernetes` target, against kmock scripted as a cluster
(tests/python/deploy/kubesim.py: a contract test of the API exchanges, not a real cluster):
rollouts that progress, crash, cannot pull, pass their deadline; RBAC refusals; apply conflicts;
each strategy's traffic moves; rollback re-applies the last known good manifests."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubesim import GOOD, Cluster, digest, pod_ip, running
from services.model_store import COLUMNS, ROWS, Store
from services.monitored import faulty_model, http, prometheus, query, serving, wait_for
from services.ports import refused_url

from mlci import protocol
from mlci.deploy.manifests import PORT

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


def amend(config: Path, target: dict[str, Any], **sections: Any) -> Path:
    """The project's config with more keys on its one target and more top-level sections."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["deploy"][0].update(target)
    doc.update(sections)
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
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


def test_blue_green_without_a_keep_window_removes_the_old_slot_and_rollback_recreates_it(
    tmp_path: Path, cluster: Cluster
) -> None:
    config = amend(project(tmp_path, cluster, "blue-green"), {"keep_previous_minutes": 0})
    assert run("deploy", config, image=V1)[0] == 0
    assert run("deploy", config, image=V2)[0] == 0
    assert ("deployments", "churn-blue") in cluster.deletes and ("deployments", "churn-blue") not in cluster.objects
    code, result = run("rollback", config)
    assert code == 0, result["summary"]
    assert deployment_image(cluster, "churn-blue") == V1
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


# ---------------------------------------------------------------- canary judged by Prometheus


@pytest.fixture(scope="module")
def pod_metrics(model_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus whose scrape targets carry the simulated pods' instance labels
    (podIP:8080): good pods are the real `mlci serve` on the demo model, pods of an erroring image
    (kubesim.pod_ip's 10.42.1.x) a real server of a model failing one request in six. Load goes to
    both servers all along, as the Services would send it. Yields the Prometheus URL."""
    tmp = tmp_path_factory.mktemp("pod-metrics")
    good_rows = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}).encode()
    poisoned = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[-1000.0, 1, "red", 0.5]]}}).encode()
    with serving(model_store.model_dir, tmp / "good") as good, serving(faulty_model(tmp), tmp / "bad") as bad:

        def targets(server: str, behaviour: str) -> list[dict[str, object]]:
            address = server.removeprefix("http://")
            return [{"targets": [address], "labels": {"instance": f"{pod_ip(behaviour, i)}:{PORT}"}} for i in range(16)]

        scrape = [{"job_name": "pods", "static_configs": targets(good, GOOD) + targets(bad, "errors")}]
        stop = threading.Event()

        def load() -> None:
            sent = 0
            while not stop.is_set():
                http(good + "/invocations", good_rows)
                http(bad + "/invocations", poisoned if sent % 6 == 0 else good_rows)
                sent += 1
                time.sleep(0.02)

        with prometheus(tmp / "prometheus", scrape) as url:
            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            try:
                errors = 'rate(mlci_http_requests_total{path="/invocations",status="500"}[5s]) > 0'
                wait_for(lambda: query(url, errors), 30, "the failing server's errors in Prometheus")
                yield url
            finally:
                stop.set()
                loader.join(10)


def judged_by(config: Path, prometheus_url: str) -> Path:
    return amend(config, {"canary_interval_seconds": 4}, monitoring={"prometheus_url": prometheus_url})


def test_a_canary_judged_by_prometheus_is_promoted(tmp_path: Path, cluster: Cluster, pod_metrics: str) -> None:
    config = judged_by(project(tmp_path, cluster, "canary"), pod_metrics)
    assert run("deploy", config, image=V1)[0] == 0
    code, result = run("deploy", config, image=V2)
    assert code == 0, result["summary"]
    assert deployment_image(cluster, "churn") == V2
    assert cluster.scrapes == {}  # judged from Prometheus, not through the pods' proxy


def test_a_canary_prometheus_sees_failing_is_removed(tmp_path: Path, cluster: Cluster, pod_metrics: str) -> None:
    _, result = bad_second_deploy(judged_by(project(tmp_path, cluster, "canary"), pod_metrics), cluster, "errors")
    assert "canary at 20%: gate failed" in result["summary"] and "error rate 1" in result["summary"]
    assert deployment_image(cluster, "churn") == V1 and ("deployments", "churn-canary") not in cluster.objects
    assert cluster.scrapes == {}


def test_losing_prometheus_mid_canary_is_exit_3_and_takes_the_canary_out(tmp_path: Path, cluster: Cluster) -> None:
    with refused_url() as dead:
        config = judged_by(project(tmp_path, cluster, "canary"), dead)
        assert run("deploy", config, image=V1)[0] == 0
        code, result = run("deploy", config, image=V2)
    assert code == 3 and result["summary"].startswith(f"prometheus {dead}: unreachable"), result["summary"]
    assert deployment_image(cluster, "churn") == V1 and ("deployments", "churn-canary") in cluster.deletes


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


def test_a_rollout_to_no_replica_fails() -> None:
    """kubectl reports 0 of 0 replicas as rolled out (a patch or a scaler set replicas: 0)."""
    from mlci.deploy.kubernetes import RolloutFailed, rollout_status

    with pytest.raises(RolloutFailed, match="no replica available"):
        rollout_status(_deployment(2, 2, 0, replicas=0, updatedReplicas=0, availableReplicas=0))


@pytest.mark.parametrize("model", [False, True], ids=["hosts-only", "with-model"])
def test_rollback_says_what_champion_names_or_moves_it_back_too(
    tmp_path: Path, cluster: Cluster, model_store: Store, model: bool
) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = MlflowClient(uri, uri)
    registry.create_registered_model("churn")
    for _ in range(2):
        registry.create_model_version("churn", str(model_store.model_dir))
    registry.set_registered_model_alias("churn", "champion", "2")
    registry.set_registered_model_alias("churn", "previous-champion", "1")
    config = amend(project(tmp_path, cluster), {}, mlflow={"tracking_uri": uri})
    assert run("deploy", config, image=V1)[0] == 0
    assert run("deploy", config, image=V2)[0] == 0
    code, result = run("rollback", config, model=model)
    assert code == 0, result["summary"]
    assert deployment_image(cluster, "churn") == V1
    aliases = {a: str(v) for a, v in registry.get_registered_model("churn").aliases.items()}
    if model:
        assert result["summary"].endswith(
            "; churn @champion rolled back to version 1 (was 2) in " + result["summary"].rsplit(" in ", 1)[1]
        )
        assert (aliases, result["outputs"]["champion"]) == ({"champion": "1", "previous-champion": "2"}, "1")
    else:
        note = "; @champion still names version 2 (the registry was not rolled back: pass model: true, or run mlci "
        assert result["summary"].endswith(note + "rollback-model)")
        assert (aliases, result["outputs"]["champion"]) == ({"champion": "2", "previous-champion": "1"}, "2")
