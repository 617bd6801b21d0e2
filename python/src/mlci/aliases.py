"""Model-registry aliases (`champion`, `previous-champion`, `challenger`): read, set, delete.

An HTTP registry is spoken to directly through MLflow's REST API with the same auth env
vars MLflow's client reads, so that `mlci promote` and `mlci rollback-model` never pay the
import of mlflow (seconds): a rollback is a few requests. Any other registry (a local sqlite
store) goes through `MlflowClient`.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from mlci import tracking
from mlci.errors import InfrastructureError

API = "/api/2.0/mlflow"


@dataclass(frozen=True)
class Version:
    version: str
    tags: dict[str, str]


class Aliases(Protocol):
    def get(self, model: str, alias: str) -> Version | None: ...
    def version(self, model: str, version: str) -> Version | None: ...
    def set(self, model: str, alias: str, version: str) -> None: ...
    def delete(self, model: str, alias: str) -> None: ...


class RestAliases:
    def __init__(self, srv: tracking.Server) -> None:
        self.srv = srv
        self.base = srv.registry_uri.rstrip("/")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        if user and password:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _context(self) -> ssl.SSLContext | None:
        if not self.base.startswith("https://"):
            return None
        if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
            return ssl._create_unverified_context()  # noqa: S323 - the user's explicit MLflow setting
        return ssl.create_default_context(cafile=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None)

    def _call(self, method: str, path: str, params: dict[str, str], doing: str) -> dict[str, Any] | None:
        """The response document; None when the server says the resource does not exist."""
        url = self.base + API + path
        body = None
        if method == "GET":
            url += "?" + urllib.parse.urlencode(params)
        else:
            body = json.dumps(params).encode()
        request = urllib.request.Request(url, data=body, method=method, headers=self._headers())  # noqa: S310 - http(s) only
        # The socket timeout bounds each wait, the guard's deadline the whole answer (a trickle).
        with tracking.guard(self.srv, doing):
            return self._send(request, doing)

    def _send(self, request: urllib.request.Request, doing: str) -> dict[str, Any] | None:
        timeout = self.srv.timeout_seconds
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context()) as response:  # noqa: S310
                kind = response.headers.get_content_type()
                text = response.read().decode(errors="replace") or "{}"
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):
                data = None
            if not isinstance(data, dict):  # a login page or a proxy's answer, not MLflow's API
                raise InfrastructureError(
                    self.srv.name, f"{doing}: answered with {kind}, not MLflow's JSON: is the URI an MLflow server?"
                )
            return data
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            missing = "RESOURCE_DOES_NOT_EXIST" in detail or (
                "INVALID_PARAMETER_VALUE" in detail and "not found" in detail
            )
            if err.code in (400, 404) and missing:
                return None
            answer = Exception(f"error code {err.code}: {detail}")
            raise InfrastructureError(self.srv.name, f"{doing}: {tracking.reason(answer, err.code)}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, TimeoutError):
                why = f"no answer within {timeout:g} s (mlflow.timeout_seconds)"
                raise InfrastructureError(self.srv.name, f"{doing}: {why}") from None
            raise InfrastructureError(self.srv.name, f"{doing}: unreachable ({reason})") from None

    def get(self, model: str, alias: str) -> Version | None:
        data = self._call(
            "GET", "/registered-models/alias", {"name": model, "alias": alias}, f"looking up {model}@{alias}"
        )
        return None if data is None else self._version(data)

    def version(self, model: str, version: str) -> Version | None:
        data = self._call(
            "GET", "/model-versions/get", {"name": model, "version": version}, f"reading {model} v{version}"
        )
        return None if data is None else self._version(data)

    @staticmethod
    def _version(data: dict[str, Any]) -> Version:
        mv = data["model_version"]
        return Version(str(mv["version"]), {t["key"]: t["value"] for t in mv.get("tags", [])})

    def set(self, model: str, alias: str, version: str) -> None:
        params = {"name": model, "alias": alias, "version": version}
        self._call("POST", "/registered-models/alias", params, f"setting {model}@{alias}")

    def delete(self, model: str, alias: str) -> None:
        self._call("DELETE", "/registered-models/alias", {"name": model, "alias": alias}, f"deleting {model}@{alias}")


class ClientAliases:
    def __init__(self, srv: tracking.Server) -> None:
        self.srv = srv
        self.client = tracking.connect(srv)

    def get(self, model: str, alias: str) -> Version | None:
        with tracking.guard(self.srv, f"looking up {model}@{alias}"):
            try:
                mv = self.client.get_model_version_by_alias(model, alias)
            except Exception as err:
                if tracking.is_not_found(err):
                    return None
                raise
        return Version(str(mv.version), dict(mv.tags))

    def version(self, model: str, version: str) -> Version | None:
        with tracking.guard(self.srv, f"reading {model} v{version}"):
            try:
                mv = self.client.get_model_version(model, version)
            except Exception as err:
                if tracking.is_not_found(err):
                    return None
                raise
        return Version(str(mv.version), dict(mv.tags))

    def set(self, model: str, alias: str, version: str) -> None:
        with tracking.guard(self.srv, f"setting {model}@{alias}"):
            self.client.set_registered_model_alias(model, alias, version)

    def delete(self, model: str, alias: str) -> None:
        with tracking.guard(self.srv, f"deleting {model}@{alias}"):
            self.client.delete_registered_model_alias(model, alias)


def store(srv: tracking.Server) -> Aliases:
    return RestAliases(srv) if srv.is_http else ClientAliases(srv)
