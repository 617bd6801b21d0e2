"""mlci.deploy.kubeapi on its own, against the contract-test API server (kubesim, on kmock):
server-side apply, get, delete, pod lists and the proxy, and each failure as an
InfrastructureError naming the verb, the resource and the namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy.kubesim import Cluster, running
from services.ports import free_port

from mlci.deploy.kubeapi import FIELD_MANAGER, KubeApi
from mlci.errors import InfrastructureError

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "1"}}


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with running(Cluster()) as c:
        yield c


def api(cluster: Cluster, tmp_path: Path, namespace: str = "ml") -> KubeApi:
    return KubeApi(namespace, cluster.kubeconfig(tmp_path), None)


def test_apply_is_server_side_with_mlcis_field_manager_then_get_and_delete(cluster: Cluster, tmp_path: Path) -> None:
    k = api(cluster, tmp_path)
    applied = k.apply(CONFIG_MAP)
    assert applied["data"] == {"a": "1"}
    plural, name, query = cluster.applies[-1]
    assert (plural, name) == ("configmaps", "m") and query.get("fieldManager") == FIELD_MANAGER
    assert query.get("force") in (None, "false", "False")
    k.apply(CONFIG_MAP, force=True)
    assert cluster.applies[-1][2].get("force") in ("true", "True")
    got = k.get("ConfigMap", "m")
    assert got is not None and got["data"] == {"a": "1"}
    k.delete("ConfigMap", "m")
    assert k.get("ConfigMap", "m") is None  # gone: None, not an error
    k.delete("ConfigMap", "m")  # deleting what is gone is fine


def test_forbidden_names_the_verb_resource_namespace_and_the_rbac_doc(cluster: Cluster, tmp_path: Path) -> None:
    cluster.forbidden.add(("patch", "configmaps"))
    with pytest.raises(InfrastructureError) as caught:
        api(cluster, tmp_path).apply(CONFIG_MAP)
    text = str(caught.value)
    assert text.startswith(f"kubernetes API {cluster.url}: forbidden: cannot patch configmaps m in namespace ml")
    assert "docs/kubernetes.md#rbac" in text


def test_a_missing_namespace_is_named(cluster: Cluster, tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="namespace nowhere not found"):
        api(cluster, tmp_path, "nowhere").apply(CONFIG_MAP)


def test_a_conflict_names_the_other_field_manager_doc(cluster: Cluster, tmp_path: Path) -> None:
    cluster.conflicts.add("configmaps")
    with pytest.raises(InfrastructureError, match=r"conflict: patch configmaps m .*docs/kubernetes.md#conflicts"):
        api(cluster, tmp_path).apply(CONFIG_MAP)


def test_an_api_server_that_does_not_answer_is_unreachable_in_seconds(tmp_path: Path) -> None:
    dead = Cluster(url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(InfrastructureError, match=r"unreachable: get configmaps"):
        KubeApi("ml", dead.kubeconfig(tmp_path), None).get("ConfigMap", "m")


@pytest.mark.parametrize("context", [None, "elsewhere"])
def test_a_missing_kubeconfig_or_context_is_named(cluster: Cluster, tmp_path: Path, context: str | None) -> None:
    path = cluster.kubeconfig(tmp_path) if context else tmp_path / "none"
    with pytest.raises(InfrastructureError, match=r"kubeconfig: .*(not found|elsewhere)"):
        KubeApi("ml", path, context)
