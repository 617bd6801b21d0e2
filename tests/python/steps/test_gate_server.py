"""The model gate over HTTP, against a real `mlflow server` behind a real nginx asking for
basic-auth credentials or a bearer token: the auth env vars as Jenkins binds them."""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from gatekit import STRONG, config, make_project
from services.faulty_proxy import SET_ALIAS, Fault, faulty_proxy
from services.mlflow_server import MlflowServer

from conftest import MLCI
from mlci import protocol

AUTH_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("gate-http") / "churn")
    (root / ".mlci.yml").write_text(config("churn-http"))
    return root


@pytest.fixture
def cli(project: Path) -> Callable[..., tuple[int, dict[str, object], str]]:
    """`mlci <command>` as Jenkins runs it: a fresh process, credentials only in the env."""

    def run(command: str, env: dict[str, str], **params: object) -> tuple[int, dict[str, object], str]:
        # No inherited MLFLOW_*: mlflow.set_registry_uri() in an earlier in-process test writes
        # MLFLOW_REGISTRY_URI into os.environ, which would point this step at another store.
        base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "JENKINS_URL"}
        params_file, result_file = project / f"{command}.params.json", project / f"{command}.result.json"
        params_file.write_text(json.dumps(params))
        proc = subprocess.run(
            [str(MLCI), command, "--params", str(params_file), "--result", str(result_file)],
            cwd=project,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return proc.returncode, json.loads(result_file.read_text()), proc.stderr

    return run


@pytest.fixture
def inproc(project: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, dict[str, object], str]]:
    """A step in this process (mlflow imported once for the module), with only `env`'s credentials."""

    def run(command: str, env: dict[str, str], **params: object) -> tuple[int, dict[str, object], str]:
        monkeypatch.chdir(project)
        for name in [*AUTH_ENV, *(k for k in os.environ if k.startswith("MLFLOW_"))]:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, result = protocol.execute(command, params)
        return code, result, ""

    return run


def champion_version(server: MlflowServer, name: str) -> dict[str, str]:
    from mlflow import MlflowClient

    model = MlflowClient(server.backend_url, server.backend_url).get_registered_model(name)
    return {a: str(v) for a, v in model.aliases.items()}


def round_trip_seconds(server: MlflowServer, name: str) -> float:
    """One registry read through the authenticating proxy, as the CLI makes it (median of 5)."""
    credentials = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    url = f"{server.url}/api/2.0/mlflow/registered-models/get?name={name}"
    times = []
    for _ in range(5):
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {credentials}"})  # noqa: S310
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's server
            response.read()
        times.append(time.monotonic() - started)
    return sorted(times)[2]


def test_gate_over_http_with_basic_auth(
    mlflow_server: MlflowServer,
    cli: Callable[..., tuple[int, dict[str, object], str]],
    inproc: Callable[..., tuple[int, dict[str, object], str]],
) -> None:
    env = mlflow_server.env()
    # train's command is a child process that logs the model over HTTP with the same env.
    code, result, _ = inproc("train", env, params={"features": STRONG})
    assert code == 0, result["summary"]
    for command in ("validate", "register", "promote"):
        code, result, _ = inproc(command, env)
        assert code == 0, f"{command}: {result['summary']}"
    assert result["summary"] == "churn-http version 1 is @champion; first champion"
    # A second validated version of the same model (a retrain, without paying for one).
    from mlflow import MlflowClient

    backend = MlflowClient(mlflow_server.backend_url, mlflow_server.backend_url)
    first = backend.get_model_version("churn-http", "1")
    backend.create_model_version(
        "churn-http",
        first.source,
        run_id=first.run_id,
        tags={"mlci.validation.status": "passed"},
        model_id=first.source.removeprefix("models:/"),
    )
    code, result, err = cli("promote", env, version="2")
    assert code == 0, err
    assert mlflow_server.password not in err
    assert champion_version(mlflow_server, "churn-http") == {"champion": "2", "previous-champion": "1"}
    # ≤ 2 s per rollback: the process's CPU time (a loaded shared agent stretches wall time, not
    # work; importing mlflow alone costs over 3 s of CPU) and the registry calls' own time.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code, result, err = cli("rollback-model", env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert code == 0, err
    assert cpu <= 2.0, f"rollback-model used {cpu:.2f} s of CPU"
    # The swap is a handful of registry calls: 2 s, or on a busy machine no more than ten round
    # trips to this server measured just after (a retry or a sleep in the swap would show).
    trip = round_trip_seconds(mlflow_server, "churn-http")
    swap = result["outputs"]["swapSeconds"]  # type: ignore[index]
    assert swap <= max(2.0, 10 * trip), f"swap took {swap} s; one registry round trip {trip:.3f} s"
    assert champion_version(mlflow_server, "churn-http") == {"champion": "1", "previous-champion": "2"}


def test_bearer_token_is_sent_and_accepted(
    mlflow_server: MlflowServer,
    cli: Callable[..., tuple[int, dict[str, object], str]],
    inproc: Callable[..., tuple[int, dict[str, object], str]],
) -> None:
    # Requests go through nginx, which admits only this token or basic auth: a pass proves the
    # client (MLflow's, for register; mlci's REST calls, for rollback) sent the token.
    code, result, err = cli("rollback-model", mlflow_server.token_env())
    assert code == 0, err
    code, result, err = inproc("register", mlflow_server.token_env())
    assert code == 0, result["summary"]
    assert mlflow_server.token not in err + json.dumps(result)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("register", "password"),
        ("rollback-model", "password"),
        ("register", "token"),
        ("rollback-model", "token"),
        ("validate", "none"),
    ],
)
def test_refused_credentials_exit_3_naming_the_server(
    mlflow_server: MlflowServer,
    cli: Callable[..., tuple[int, dict[str, object], str]],
    inproc: Callable[..., tuple[int, dict[str, object], str]],
    command: str,
    kind: str,
) -> None:
    env = {
        "password": mlflow_server.env(MLFLOW_TRACKING_PASSWORD="wrong-password"),  # noqa: S106 - a wrong one, on purpose
        "token": mlflow_server.token_env("wrong-token"),
        "none": {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
    }[kind]
    before = champion_version(mlflow_server, "churn-http")
    # rollback-model speaks REST itself (a fresh process); the others go through MLflow's client.
    code, result, err = (cli if command == "rollback-model" else inproc)(command, env)
    assert code == 3, result["summary"]
    assert str(result["summary"]).startswith(f"MLflow at {mlflow_server.url}: ")
    assert "authentication failed (HTTP 401)" in str(result["summary"])
    assert "wrong-password" not in err and "wrong-token" not in err
    assert champion_version(mlflow_server, "churn-http") == before


def test_credentials_in_the_tracking_uri_are_sent_as_basic_auth_never_resolved(
    mlflow_server: MlflowServer,
    cli: Callable[..., tuple[int, dict[str, object], str]],
    inproc: Callable[..., tuple[int, dict[str, object], str]],
) -> None:
    # nginx admits a request only with the credentials: a pass proves they went as Authorization,
    # and that the host connected to was 127.0.0.1, not `ci:<password>@127.0.0.1`.
    host = mlflow_server.url.removeprefix("http://")
    uri = f"http://{mlflow_server.username}:{urllib.parse.quote(mlflow_server.password, safe='')}@{host}"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    before = champion_version(mlflow_server, "churn-http")
    code, result, err = cli("rollback-model", env)  # mlci's own REST calls
    assert code == 0, err
    after = champion_version(mlflow_server, "churn-http")
    assert (after["champion"], after["previous-champion"]) == (before["previous-champion"], before["champion"])
    code, result, _ = inproc("register", env)  # MLflow's client
    assert code == 0, result["summary"]
    assert mlflow_server.password not in err + json.dumps(result)
    code, result, err = cli("promote", {**env, "MLFLOW_TRACKING_URI": f"http://ci@{host}"})
    assert code == 2, err
    assert str(result["summary"]).startswith("MLFLOW_TRACKING_URI: the URL's user info must be user:password")


def new_version(server: MlflowServer, name: str, **tags: str) -> None:
    """Another version of `name` made of churn-http's first (trained by the first test)."""
    from mlflow import MlflowClient

    backend = MlflowClient(server.backend_url, server.backend_url)
    first = backend.get_model_version("churn-http", "1")
    model_id = first.source.removeprefix("models:/")
    backend.create_model_version(name, first.source, run_id=first.run_id, tags=tags, model_id=model_id)


def two_champions(server: MlflowServer, name: str) -> None:
    """Registered model `name`: version 2 @champion, version 1 @previous-champion."""
    from mlflow import MlflowClient

    backend = MlflowClient(server.backend_url, server.backend_url)
    backend.create_registered_model(name)
    for _ in range(2):
        new_version(server, name)
    backend.set_registered_model_alias(name, "champion", "2")
    backend.set_registered_model_alias(name, "previous-champion", "1")


def test_rollback_model_failing_between_the_aliases_is_finished_by_the_next_run(
    mlflow_server: MlflowServer, project: Path, cli: Callable[..., tuple[int, dict[str, object], str]]
) -> None:
    name = "swap-http"
    two_champions(mlflow_server, name)
    (project / f".mlci-{name}.yml").write_text(config(name))
    fault = Fault(*SET_ALIAS, nth=2)  # champion moves, previous-champion does not
    with faulty_proxy(mlflow_server.backend_url, fault) as url:
        env = {"MLFLOW_TRACKING_URI": url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        code, result, err = cli("rollback-model", env, configFile=f".mlci-{name}.yml")
        assert code == 3, err
        assert champion_version(mlflow_server, name) == {"champion": "1", "previous-champion": "1"}
        # The retry finishes that rollback (it does not swap the half-done state back).
        code, result, err = cli("rollback-model", env, configFile=f".mlci-{name}.yml")
        assert code == 0, err
        assert result["summary"] == (
            f"finished the interrupted rollback of {name}: {name} @champion is version 1, @previous-champion version 2"
        )
        assert champion_version(mlflow_server, name) == {"champion": "1", "previous-champion": "2"}
        # Nothing left pending: the next run swaps forward as usual.
        code, result, err = cli("rollback-model", env, configFile=f".mlci-{name}.yml")
        assert code == 0, err
        assert champion_version(mlflow_server, name) == {"champion": "2", "previous-champion": "1"}


def test_promote_to_a_server_that_stalls_moves_no_alias_for_good(
    mlflow_server: MlflowServer, project: Path, cli: Callable[..., tuple[int, dict[str, object], str]]
) -> None:
    name = "stall-http"
    two_champions(mlflow_server, name)
    new_version(mlflow_server, name, **{"mlci.validation.status": "passed"})
    (project / f".mlci-{name}.yml").write_text(config(name, "mlflow:\n  timeout_seconds: 1\n"))
    params = {"configFile": f".mlci-{name}.yml", "version": "3"}
    # previous-champion moves, then setting champion never gets an answer.
    with faulty_proxy(mlflow_server.backend_url, Fault(*SET_ALIAS, nth=2, stall=True)) as url:
        env = {"MLFLOW_TRACKING_URI": url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        code, result, err = cli("promote", env, **params)
        assert code == 3, err
        assert result["service"] == f"MLflow at {url}"
        assert "no answer within 1 s" in str(result["summary"]) or "no complete answer" in str(result["summary"])
    assert champion_version(mlflow_server, name)["champion"] == "2"
    with faulty_proxy(mlflow_server.backend_url, Fault(*SET_ALIAS, nth=0)) as url:
        code, result, err = cli("promote", {"MLFLOW_TRACKING_URI": url}, **params)
    assert code == 0, err
    assert champion_version(mlflow_server, name) == {"champion": "3", "previous-champion": "2"}
