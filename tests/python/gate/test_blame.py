"""Whose fault a failure around a model is: the services' (exit 3) or the model's (exit 2)."""

from __future__ import annotations

import pytest

from mlci import tracking
from mlci.errors import InfrastructureError, InputError
from mlci.gate import blame


def _raised_from(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as err:
            raise outer from err
    except Exception as err:
        return err


def test_service_client_errors_are_infrastructure() -> None:
    import requests
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException, RestException

    for err in (
        requests.exceptions.ConnectionError("refused"),
        sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database is locked")),
        RestException({"error_code": "INTERNAL_ERROR", "message": "boom"}),
        MlflowException("API request to http://mlflow:5000/api/2.0/mlflow/runs/log-batch failed with exception"),
        ConnectionResetError("reset by peer"),
        _raised_from(RuntimeError("logging failed"), requests.exceptions.ReadTimeout("read timed out")),
    ):
        assert blame.is_infrastructure(err), repr(err)


def test_model_and_data_errors_are_not() -> None:
    from mlflow.exceptions import MlflowException

    for err in (
        ModuleNotFoundError("No module named 'lightgbm'"),
        OSError("libgomp.so.1: cannot open shared object file: No such file or directory"),
        ValueError("operands could not be broadcast together with shapes (120,3) (120,)"),
        MlflowException("Failed to enforce schema of data: missing column tenure_months"),
        _raised_from(RuntimeError("predict failed"), KeyError("region")),
    ):
        assert not blame.is_infrastructure(err), repr(err)


def test_model_guard_exit_codes() -> None:
    srv = tracking.Server("http://mlflow.invalid", "http://mlflow.invalid")
    with pytest.raises(InputError) as bad, blame.model_guard(srv, "loading m", "models:/m-1 cannot be loaded"):
        raise ModuleNotFoundError("No module named 'lightgbm'")
    assert str(bad.value) == "models:/m-1 cannot be loaded: ModuleNotFoundError: No module named 'lightgbm'"
    import requests

    with pytest.raises(InfrastructureError) as infra, blame.model_guard(srv, "loading m", "unused"):
        raise requests.exceptions.ConnectionError("Failed to establish a new connection")
    assert str(infra.value).startswith("MLflow at http://mlflow.invalid: loading m: unreachable")
