"""MLflow, as the model gate uses it: which tracking server, one error type for its failures,
and the experiment training runs go to.

Every failure of MLflow itself (unreachable, refused credentials, a broken store) becomes an
`InfrastructureError` naming the server's URI (exit 3); "not found" answers are handled by
the callers, where they mean something.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
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

# MLflow retries a refused connection 7 times with exponential backoff (minutes) and waits
# 120 s for each answer; a gate should say "unreachable" in seconds. The env vars still win
# when set; `mlflow.timeout_seconds` wins over MLFLOW_HTTP_REQUEST_TIMEOUT.
TIMEOUT_ENV, RETRIES_ENV, BACKOFF_ENV = (
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
)
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 1.0
# A model download may be large: its whole-operation deadline is this many times the usual one.
DOWNLOAD_FACTOR = 20
SQLITE = "sqlite:///"
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Server:
    tracking_uri: str
    registry_uri: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # one request: connecting, or waiting for bytes
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF

    @property
    def name(self) -> str:
        """How errors name the server: its URI without any password in it."""
        return f"MLflow at {config_module.redacted(self.tracking_uri)}"

    @property
    def is_http(self) -> bool:
        return self.registry_uri.startswith(("http://", "https://"))

    @property
    def remote(self) -> bool:
        return any(u.startswith(("http://", "https://")) for u in (self.tracking_uri, self.registry_uri))

    @property
    def budget(self) -> float:
        """The longest one operation (a request and its retries) may take, however the server
        answers: a socket timeout alone lets a server that trickles a byte a second hang a step."""
        return self.timeout_seconds * (self.retries + 1) + self.backoff * float(2**self.retries)


def _absolute(uri: str, project_dir: Path) -> str:
    # `sqlite:///.mlci/mlflow.db` is relative to the project, not to wherever the CLI runs:
    # the training command gets the absolute form, so both see the same store.
    if uri.startswith(SQLITE) and not uri[len(SQLITE) :].startswith("/"):
        return SQLITE + str((project_dir / uri[len(SQLITE) :]).resolve())
    return uri


def server(cfg: Any, project_dir: Path) -> Server:
    """The tracking server from `mlflow.tracking_uri`, else MLFLOW_TRACKING_URI; never a
    silent local default (a Jenkins workspace is not a model registry). Every step reaches
    MLflow through this and `connect`: a relative sqlite path is the project's, wherever the
    CLI runs."""
    uri = cfg.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError(
            "mlflow.tracking_uri: not set; set it in .mlci.yml, pass trackingUri, "
            "or set the MLFLOW_TRACKING_URI environment variable"
        )
    tracking = _absolute(uri, project_dir)
    registry = _absolute(cfg.mlflow.registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or uri, project_dir)
    timeout = float(cfg.mlflow.timeout_seconds or _env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))
    retries = int(_env_number(RETRIES_ENV, DEFAULT_RETRIES))
    return Server(tracking, registry, timeout, retries, _env_number(BACKOFF_ENV, DEFAULT_BACKOFF))


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e6:  # also NaN
        raise InputError(f"{name}: expected a non-negative number, got {raw!r}")
    return value


def artifact_root(srv: Server) -> str | None:
    """Artifacts of a local sqlite store live beside its database, not in the cwd's ./mlruns."""
    if srv.tracking_uri.startswith(SQLITE):
        return (Path(srv.tracking_uri[len(SQLITE) :]).parent / "artifacts").as_uri()
    return None


def child_env(srv: Server) -> dict[str, str]:
    """What a child process (the training command) needs to reach the same server."""
    return {"MLFLOW_TRACKING_URI": srv.tracking_uri, "MLFLOW_REGISTRY_URI": srv.registry_uri, **_http_env(srv)}


def _http_env(srv: Server) -> dict[str, str]:
    return {
        TIMEOUT_ENV: f"{srv.timeout_seconds:g}",
        RETRIES_ENV: str(srv.retries),
        BACKOFF_ENV: f"{srv.backoff:g}",
    }


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
    if "sqlite3." in text:  # sqlalchemy's text quotes the SQL; the driver's complaint is enough
        found = re.search(r"\(sqlite3\.\w+\) ([^\[]+)", text)
        return f"the sqlite store is unusable ({found[1].strip() if found else 'database error'})"
    if "timeout exception" in text or "Read timed out" in text or isinstance(err, TimeoutError):
        return "timed out; raise mlflow.timeout_seconds if the server is just slow"
    return _short(text)


def _short(text: str) -> str:
    # MLflow's message carries the server's response body: a 500 page may quote the request.
    return masking.excerpt(text, 300)


class DeadlinePassed(BaseException):
    """Raised from SIGALRM inside a `deadline`. A BaseException: the `except Exception` in
    MLflow's and requests' retry code must not swallow it and go on waiting."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlinePassed in the block after `seconds` of wall time, whatever it is blocked
    in (a socket read that gets a byte every second never times out by itself). Main thread
    only (signals); elsewhere the socket timeouts are the only bound. Nests: the shorter wins."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:
        yield  # an enclosing deadline comes first
        return

    def expire(signum: int, frame: object) -> None:
        raise DeadlinePassed(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


@contextmanager
def guard(srv: Server, doing: str, *, download: bool = False, bounded: bool = True) -> Iterator[None]:
    """Turn any failure of MLflow while `doing` into an InfrastructureError naming the server.
    Against an HTTP server the block has a deadline (`Server.budget`, times DOWNLOAD_FACTOR for
    a `download`); `bounded=False` for blocks that mostly compute (evaluation)."""
    seconds = srv.budget * (DOWNLOAD_FACTOR if download else 1)
    try:
        if srv.remote and bounded:
            with deadline(seconds):
                yield
        else:
            yield
    except MlciError:
        raise
    except DeadlinePassed as err:
        raise InfrastructureError(
            srv.name,
            f"{doing}: {err} (mlflow.timeout_seconds: {srv.timeout_seconds:g} s a request, "
            f"{srv.retries} retries); is the server overloaded or stuck?",
        ) from None
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


def _check_sqlite(srv: Server, uri: str, create: bool) -> None:
    """A local store must be there and be a database before MLflow opens it: MLflow would
    create an empty one in its place (then "Registered Model ... not found") or fail with
    an SQL traceback. Only `train`, which starts a project's first run, may create it."""
    if not uri.startswith(SQLITE):
        return
    path = Path(uri[len(SQLITE) :])
    if not path.is_file() or path.stat().st_size == 0:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            return
        raise InfrastructureError(
            srv.name, f"no MLflow store at {path} (missing or empty); run mlci train first, or fix mlflow.tracking_uri"
        )
    try:
        with path.open("rb") as db:
            head = db.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise InfrastructureError(srv.name, f"cannot read the store {path}: {err.strerror}") from None
    if head != SQLITE_MAGIC:
        raise InfrastructureError(srv.name, f"{path} is not an SQLite database (corrupt or not an MLflow store)")


def connect(srv: Server, create: bool = False) -> MlflowClient:
    """A client for `srv`, after one cheap request proves the server answers; mlflow's
    process-wide URIs point at it too (`mlflow.artifacts`, `mlflow.start_run` read them).
    `create`: a missing sqlite store is created (train) rather than an error."""
    for uri in {srv.tracking_uri, srv.registry_uri}:
        _check_sqlite(srv, uri, create)
    # mlflow reads these at every request; child processes inherit them through child_env.
    os.environ.update(_http_env(srv))
    with log.Status("connecting to MLflow"):
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(srv.tracking_uri)
        mlflow.set_registry_uri(srv.registry_uri)
        # Creating the client opens a sqlite store: a damaged one fails here, not in a request.
        with guard(srv, "connecting"):
            client = MlflowClient(srv.tracking_uri, srv.registry_uri)
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
