"""The few Kubernetes API calls the backend makes, through the kubernetes client: server-side
apply with field manager `mlci`, get, delete, pod lists, and requests through the API server's
service and pod proxy (smoke tests and metric scrapes need no route into the cluster).

Objects go in and come out as plain dicts. Every failure becomes an InfrastructureError (exit 3)
that names the verb, the resource and the namespace, as RBAC and kubectl name them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlci.errors import InfrastructureError

FIELD_MANAGER = "mlci"
APPLY = "application/apply-patch+yaml"
# kind -> (API class, method suffix, resource as RBAC names it)
KINDS: dict[str, tuple[str, str, str]] = {
    "Deployment": ("AppsV1Api", "deployment", "deployments.apps"),
    "Service": ("CoreV1Api", "service", "services"),
    "PodDisruptionBudget": ("PolicyV1Api", "pod_disruption_budget", "poddisruptionbudgets.policy"),
    "HorizontalPodAutoscaler": (
        "AutoscalingV2Api",
        "horizontal_pod_autoscaler",
        "horizontalpodautoscalers.autoscaling",
    ),
    "ConfigMap": ("CoreV1Api", "config_map", "configmaps"),
}


def kubeconfig_path(given: str | None, project_dir: Path) -> Path:
    if given:
        return project_dir / given
    env = os.environ.get("KUBECONFIG", "")
    first = env.split(os.pathsep)[0] if env else ""
    return Path(first) if first else Path.home() / ".kube" / "config"


class KubeApi:
    def __init__(self, namespace: str, kubeconfig: Path, context: str | None) -> None:
        from kubernetes import client
        from kubernetes.config import ConfigException, load_kube_config

        if not kubeconfig.is_file():
            raise InfrastructureError(
                "kubeconfig",
                f"{kubeconfig} not found; set kubernetes.kubeconfig or KUBECONFIG "
                "(Jenkins: kubeconfigCredentialsId, see docs/kubernetes.md#credentials)",
            )
        cfg = client.Configuration()
        try:
            load_kube_config(  # type: ignore[no-untyped-call]
                str(kubeconfig), context, client_configuration=cfg, persist_config=False
            )
        except (ConfigException, ValueError, OSError) as err:
            which = f"context {context!r}" if context else "current context"
            raise InfrastructureError("kubeconfig", f"{kubeconfig} ({which}): {err}") from None
        cfg.retries = 1  # a dead API server fails the step in seconds, not after urllib3's default retries
        self.namespace = namespace
        self.host = cfg.host
        self.client = client.ApiClient(cfg)
        self._client_module = client

    def _api(self, kind: str) -> tuple[Any, str, str]:
        api_class, suffix, resource = KINDS[kind]
        return getattr(self._client_module, api_class)(self.client), suffix, resource

    def _call(self, verb: str, resource: str, name: str, call: Callable[[], Any], missing_ok: bool = False) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return call()
        except ApiException as err:
            if err.status == 404 and missing_ok and _status(err.body).get("details", {}).get("kind") != "namespaces":
                return None
            raise self._error(verb, resource, name, err.status, err.reason, err.body) from None
        except (HTTPError, OSError) as err:
            raise InfrastructureError(
                f"kubernetes API {self.host}", f"unreachable: {verb} {resource}: {type(err).__name__}: {err}"
            ) from None

    def _error(self, verb: str, resource: str, name: str, code: int, reason: Any, body: Any) -> InfrastructureError:
        service = f"kubernetes API {self.host}"
        status = _status(body)
        message = str(status.get("message") or reason or "")
        details = status.get("details") or {}
        what = f"{verb} {resource}{f' {name}' if name else ''} in namespace {self.namespace}"
        if code == 404 and details.get("kind") == "namespaces":
            return InfrastructureError(service, f"namespace {self.namespace} not found ({what})")
        if code == 403:
            return InfrastructureError(
                service, f"forbidden: cannot {what}: {message} (the Role the deployer needs: docs/kubernetes.md#rbac)"
            )
        if code == 401:
            return InfrastructureError(service, f"unauthorized: {what}: check the kubeconfig's credentials")
        if code == 409:
            causes = "; ".join(
                f"{c.get('field', '')} {c.get('message', '')}".strip() for c in details.get("causes") or []
            )
            return InfrastructureError(
                service,
                f"conflict: {what}: {causes or message} (another field manager changed it; "
                "see docs/kubernetes.md#conflicts)",
            )
        if code == 0:  # the client's own transport failure
            return InfrastructureError(service, f"unreachable: {what}: {reason}")
        return InfrastructureError(service, f"{what}: HTTP {code} {reason}: {message}")

    def apply(self, manifest: dict[str, Any], force: bool = False) -> dict[str, Any]:
        """Server-side apply: our fields are ours; a field another manager owns is a conflict
        unless `force` (rollback restores a known good state and takes them back)."""
        api, suffix, resource = self._api(manifest["kind"])
        name = manifest["metadata"]["name"]
        method = getattr(api, f"patch_namespaced_{suffix}")
        response = self._call(
            "patch",
            resource,
            name,
            lambda: method(
                name,
                self.namespace,
                manifest,
                field_manager=FIELD_MANAGER,
                force=force,
                _content_type=APPLY,
                _preload_content=False,
            ),
        )
        return dict(json.loads(response.data))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        api, suffix, resource = self._api(kind)
        method = getattr(api, f"read_namespaced_{suffix}")
        response = self._call(
            "get", resource, name, lambda: method(name, self.namespace, _preload_content=False), missing_ok=True
        )
        return None if response is None else dict(json.loads(response.data))

    def delete(self, kind: str, name: str) -> None:
        api, suffix, resource = self._api(kind)
        method = getattr(api, f"delete_namespaced_{suffix}")
        self._call("delete", resource, name, lambda: method(name, self.namespace, _preload_content=False), True)

    def pods(self, selector: dict[str, str]) -> list[dict[str, Any]]:
        core = self._client_module.CoreV1Api(self.client)
        labels = ",".join(f"{k}={v}" for k, v in selector.items())
        response = self._call(
            "list",
            "pods",
            "",
            lambda: core.list_namespaced_pod(self.namespace, label_selector=labels, _preload_content=False),
        )
        return list(json.loads(response.data).get("items") or [])

    def proxy(self, resource: str, name: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        """GET `path` (or POST the JSON `payload`) on a service or pod through the API server's
        proxy; `resource` is `services` or `pods`, `name` may carry a port (`svc:http`)."""
        method = "POST" if payload is not None else "GET"
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        verb = f"{method.lower()} (proxy)"

        def call() -> Any:
            request = self.client.param_serialize(
                method,
                f"/api/v1/namespaces/{{namespace}}/{resource}/{{name}}/proxy{path}",
                path_params={"namespace": self.namespace, "name": name},
                header_params=headers,
                body=payload,
                auth_settings=["BearerToken"],
            )
            response = self.client.call_api(*request)
            response.read()  # type: ignore[no-untyped-call]
            return response

        response = self._call(verb, f"{resource}/proxy", name, call)
        data = bytes(response.data or b"")
        # The API server's own refusals are Status objects; the model server never answers one.
        if response.status in (401, 403) or _status(data).get("kind") == "Status":
            raise self._error(verb, f"{resource}/proxy", name, response.status, response.reason, data)
        return int(response.status), data


def _status(body: Any) -> dict[str, Any]:
    """The API server's Status object from an error body, or {} when it is not one."""
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
