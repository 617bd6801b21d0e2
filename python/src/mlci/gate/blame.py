"""Whose fault a failure is while loading, predicting or evaluating a model.

`tracking.guard` calls every failure an MLflow one (exit 3). Around the model that is wrong:
a module the model needs that is missing, a pickle that does not load, a predict that raises
or returns what the task cannot score, are problems of the model or the data (exit 2, naming
the model and the cause). Exit 3 stays for the tracking server, the registry and the artifact
store: errors of their clients (HTTP, the SQL store) or an HTTP status in MLflow's answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlci import tracking
from mlci.errors import InfrastructureError, InputError, MlciError

# Exceptions raised by the clients of the tracking server, registry and artifact store.
_SERVICE_MODULES = ("requests.", "urllib3.", "sqlalchemy.", "botocore.", "google.api_core.", "azure.core.")


def _service_error(err: BaseException) -> bool:
    if isinstance(err, ConnectionError | TimeoutError):
        return True
    if any(cls.__module__.startswith(_SERVICE_MODULES) for cls in type(err).__mro__):
        return True
    if type(err).__name__ == "RestException":  # MLflow's: the server answered with an error
        return True
    text = " ".join(str(err).split())
    return text.startswith("API request to") or tracking.http_status(err, text) is not None


def is_infrastructure(err: BaseException) -> bool:
    """True when `err`, or an exception it was raised from, comes from a service client."""
    seen: BaseException | None = err
    for _ in range(10):  # a cause chain is short; never loop on a cycle
        if seen is None:
            return False
        if _service_error(seen):
            return True
        seen = seen.__cause__
    return False


def cause(err: BaseException, limit: int = 300) -> str:
    """`Type: first words of the message`, on one line."""
    text = " ".join(str(err).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextmanager
def model_guard(srv: tracking.Server, doing: str, what: str) -> Iterator[None]:
    """Classify a failure while `doing` something with a model: the server's (exit 3) or the
    model's and the data's (exit 2, with `what` failed and why)."""
    try:
        yield
    except MlciError:
        raise
    except Exception as err:
        if is_infrastructure(err):
            raise InfrastructureError(srv.name, f"{doing}: {tracking.reason(err)}") from err
        raise InputError(f"{what}: {cause(err)}") from None
