"""MLflow, as the model gate uses it: which tracking server, one error type for its failures,
and the experiment training runs go to.

Every failure of MLflow itself (unreachable, refused credentials, a broken store) becomes an
`InfrastructureError` naming the server's URI (exit 3); "not found" answers are handled by
the callers, where they mean something.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import config as config_module
from mlci import log, masking
from mlci.errors import InfrastructureError, InputError, MlciError

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow retries a refused connection 7 times with exponential backoff (minutes); a gate
# should say "unreachable" in seconds. Users can still set these env vars themselves.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


@dataclass(frozen=True)
class Server:
    tracking_uri: str
    registry_uri: str

    @property
    def name(self) -> str:
        """How errors name the server: its URI without any password in it."""
        return f"MLflow at {config_module.redacted(self.tracking_uri)}"

    @property
    def is_http(self) -> bool:
        return self.registry_uri.startswith(("http://", "https://"))


def _absolute(uri: str, project_dir: Path) -> str:
    # `sqlite:///.mlci/mlflow.db` is relative to the project, not to wherever the CLI runs:
    # the training command gets the absolute form, so both see the same store.
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str((project_dir / uri[len(prefix) :]).resolve())
    return uri


def server(cfg: Any, project_dir: Path) -> Server:
    """The tracking server from `mlflow.tracking_uri`, else MLFLOW_TRACKING_URI; never a
    silent local default (a Jenkins workspace is not a model registry)."""
    uri = cfg.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError(
            "mlflow.tracking_uri: not set; set it in .mlci.yml, pass trackingUri, "
            "or set the MLFLOW_TRACKING_URI environment variable"
        )
    tracking = _absolute(uri, project_dir)
    registry = _absolute(cfg.mlflow.registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or uri, project_dir)
    return Server(tracking, registry)


def artifact_root(srv: Server) -> str | None:
    """Artifacts of a local sqlite store live beside its database, not in the cwd's ./mlruns."""
    prefix = "sqlite:///"
    if srv.tracking_uri.startswith(prefix):
        return (Path(srv.tracking_uri[len(prefix) :]).parent / "artifacts").as_uri()
    return None


def child_env(srv: Server) -> dict[str, str]:
    """What a child process (the training command) needs to reach the same server."""
    return {"MLFLOW_TRACKING_URI": srv.tracking_uri, "MLFLOW_REGISTRY_URI": srv.registry_uri, **_http_env()}


def _http_env() -> dict[str, str]:
    return {k: os.environ.get(k, v) for k, v in HTTP_DEFAULTS.items()}


# An HTTP status as MLflow and requests write it ("error code 401 != 200", "403 Client Error",
# "too many 503 error responses"); a bare "401" could be part of a port or a run id.
_STATUS = re.compile(r"error code ([1-5]\d\d)\b|\b([1-5]\d\d) (?:Client|Server) Error\b|too many ([1-5]\d\d) error")
_AUTH_CODES = {"UNAUTHENTICATED": 401, "CUSTOMER_UNAUTHORIZED": 401, "PERMISSION_DENIED": 403}
_UNREACHABLE = (
    "Connection refused",
    "Failed to establish",
    "NameResolutionError",
    "Name or service not known",
    "ConnectTimeoutError",
)


def http_status(err: BaseException, text: str) -> int | None:
    """The HTTP status MLflow answered with, if it answered at all."""
    by_code = _AUTH_CODES.get(str(getattr(err, "error_code", "")))
    if by_code:
        return by_code
    found = _STATUS.search(text)
    return int(next(g for g in found.groups() if g)) if found else None


def reason(err: BaseException, status: int | None = None) -> str:
    """What went wrong, in words; `status` when the caller read the HTTP answer itself."""
    text = " ".join(str(err).split())
    status = status or http_status(err, text)
    if status == 401:
        return (
            "authentication failed (HTTP 401): check the credentials bound to MLFLOW_TRACKING_USERNAME/"
            "MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN (mlflowCredentialsId, mlflowTokenCredentialsId)"
        )
    if status == 403:
        return "permission denied (HTTP 403): the MLflow user lacks a permission this step needs"
    if status is not None and status >= 500:
        return _short(f"server error (HTTP {status}); the MLflow server's log has the cause: {text}")
    if any(phrase in text for phrase in _UNREACHABLE) or isinstance(err, ConnectionError):
        return "unreachable (connection failed); is the server running and the URI right?"
    if "timeout exception" in text or "Read timed out" in text:
        return "timed out; raise MLFLOW_HTTP_REQUEST_TIMEOUT if the server is just slow"
    return _short(text)


def _short(text: str) -> str:
    # MLflow's message carries the server's response body: a 500 page may quote the request.
    return masking.excerpt(text, 300)


@contextmanager
def guard(srv: Server, doing: str) -> Iterator[None]:
    """Turn any failure of MLflow while `doing` into an InfrastructureError naming the server."""
    try:
        yield
    except MlciError:
        raise
    except Exception as err:
        raise InfrastructureError(srv.name, f"{doing}: {reason(err)}") from err


def is_not_found(err: BaseException) -> bool:
    """MLflow's "no such thing" answers; a missing alias comes as INVALID_PARAMETER_VALUE."""
    code = getattr(err, "error_code", None)
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(err))


def get_run(client: MlflowClient, srv: Server, run_id: str) -> Any:
    """The run `run_id`; InputError (it came from the `runId` param) when the server has none."""
    with guard(srv, f"reading run {run_id}"):
        try:
            return client.get_run(run_id)
        except Exception as err:
            if is_not_found(err):
                raise InputError(f"runId: no run {run_id!r} in {srv.name}") from None
            raise


def connect(srv: Server) -> MlflowClient:
    """A client for `srv`, after one cheap request proves the server answers."""
    for key, value in _http_env().items():
        os.environ.setdefault(key, value)
    with log.Status("connecting to MLflow"):
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(srv.tracking_uri)
        mlflow.set_registry_uri(srv.registry_uri)
        client = MlflowClient(srv.tracking_uri, srv.registry_uri)
        with guard(srv, "connecting"):
            client.search_experiments(max_results=1)
    return client


def experiment_id(client: MlflowClient, srv: Server, name: str) -> str:
    with guard(srv, f"getting experiment {name!r}"):
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise InputError(
                    f"mlflow.experiment: experiment {name!r} is deleted in {srv.name}; restore or rename it"
                )
            return str(found.experiment_id)
        return str(client.create_experiment(name, artifact_location=artifact_root(srv)))
