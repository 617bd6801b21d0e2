"""`mlci build` and `mlci base-image` on the real Docker engine and a real registry: one image
built for the session on the locally built base, then run read-only, probed, sent good and
bad requests, scraped, and stopped with SIGTERM under load."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from services.model_store import COLUMNS, ROWS, Store, log_sklearn, use_store
from services.ports import free_port, refused_url
from services.registry import LoginRegistry

from conftest import MLCI, REPO, write
from mlci.serving import loadgen


@dataclass
class Build:
    project: Path
    result: dict[str, Any]
    code: int
    stderr: str


def mlci_build(project: Path, store: Store, umask: int | None = None, **params: Any) -> Build:
    (project / "params.json").write_text(json.dumps(params))
    env = {**os.environ, "MLCI_CACHE_DIR": str(REPO / ".cache" / "mlci"), "MLFLOW_TRACKING_URI": store.tracking_uri}
    proc = subprocess.run(
        [str(MLCI), "build", "--params", "params.json", "--result", "result.json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=None if umask is None else lambda: os.umask(umask),
    )
    result = json.loads((project / "result.json").read_text())
    return Build(project, result, proc.returncode, proc.stderr)


def config_text(tracking_uri: str, *image: str, mlflow: str = "") -> str:
    """A `.mlci.yml` for model `demo` in the store at `tracking_uri`; `image` and `mlflow` add keys."""
    lines = [
        "version: 1",
        "model:",
        "  name: demo",
        "  task: classification",
        "mlflow:",
        f'  tracking_uri: "{tracking_uri}"',
    ]
    lines += [f"  {mlflow}"] if mlflow else []
    return "\n".join([*lines, "image:", *(f"  {i}" for i in image)]) + "\n"


@pytest.fixture(scope="session")
def built(base_image: str, registry: str, model_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Build:
    project = tmp_path_factory.mktemp("build-project")
    write(
        project / ".mlci.yml",
        config_text(model_store.tracking_uri, f'registry: "{registry}"', f"base_image: {base_image}"),
    )
    # Under the umask of a Jenkins run from Tomcat: the image must not depend on it (the
    # container tests run it as its non-root user).
    out = mlci_build(project, model_store, umask=0o027, modelUri="models:/demo/1")
    assert out.code == 0, out.stderr
    return out


def test_build_pushes_and_returns_the_digest_reference(built: Build, registry: str) -> None:
    outputs = built.result["outputs"]
    assert built.result["status"] == "passed"
    assert outputs["image"] == f"{registry}/demo:1"
    assert outputs["digest"].startswith("sha256:") and len(outputs["digest"]) == 71
    assert outputs["reference"] == f"{registry}/demo@{outputs['digest']}"
    assert built.result["summary"].startswith(f"pushed {registry}/demo@sha256:")
    assert outputs["sizeBytes"] < 450e6, outputs["sizeBytes"]
    # The registry serves that digest.
    req = urllib.request.Request(
        f"http://{registry}/v2/demo/manifests/{outputs['digest']}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - local registry
        assert resp.headers["Docker-Content-Digest"] == outputs["digest"]
    assert (built.project / "reports" / "build" / "Dockerfile").is_file()


def test_image_is_non_root_labelled_healthchecked_and_dependencies_come_first(built: Build, model_store: Store) -> None:
    import docker

    image = docker.from_env().images.get(built.result["outputs"]["image"])
    config = image.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "/readyz" in " ".join(config["Healthcheck"]["Test"])
    labels = config["Labels"]
    assert labels["io.mlci.model.name"] == "demo"
    assert labels["io.mlci.model.version"] == "1"
    assert labels["io.mlci.model.run_id"] == model_store.run_id
    assert labels["io.mlci.git.commit"] == "0" * 40
    assert labels["io.mlci.data.fingerprint"] == "fp-demo"
    assert labels["io.mlci.version"] == "0.1.0"
    dockerfile = (built.project / "reports" / "build" / "Dockerfile").read_text()
    assert dockerfile.index("--no-index") < dockerfile.index("COPY model/")
    history = [h["CreatedBy"] for h in image.history()]
    # Newest first: the model layer comes after (above) the dependency layer.
    model_layer = next(i for i, h in enumerate(history) if "/opt/ml/model" in h and "COPY" in h)
    deps_layer = next(i for i, h in enumerate(history) if "COPY dir:" in h and h.strip().endswith("/opt/mlci/venv"))
    assert model_layer < deps_layer
    # No compilers, pip or wheel caches left behind.
    out = in_image(image.id, "sh", "command -v gcc cc pip; ls -A /tmp | wc -l; test -e /root/.cache || id -u")
    assert out == ["0", "10001"]


def in_image(image: str, entrypoint: str, script: str) -> list[str]:
    """The words `entrypoint -c script` prints in a throwaway container of `image`."""
    argv = ["/usr/bin/docker", "run", "--rm", "--entrypoint", entrypoint, image, "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout.split()


@pytest.fixture(scope="session")
def container(built: Build) -> Iterator[tuple[Any, int]]:
    import docker

    port = free_port()
    dc = docker.from_env()
    c = dc.containers.run(
        built.result["outputs"]["reference"],
        detach=True,
        read_only=True,
        tmpfs={"/tmp": "size=64m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ports={"8080/tcp": ("127.0.0.1", port)},
        environment={"MLCI_DRAIN_SECONDS": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if http("GET", port, "/readyz")[0] == 200:
                break
            c.reload()
            assert c.status == "running", c.logs().decode()
            time.sleep(0.2)
        yield c, port
    finally:
        c.remove(force=True)


def http(
    method: str, port: int, path: str, body: str | None = None, ctype: str = "application/json"
) -> tuple[int, str]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body.encode() if body else None,
        method=method,
        headers={"Content-Type": ctype},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - local container
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def test_container_serves_read_only_answers_bad_requests_and_is_scraped(
    container: tuple[Any, int], model_store: Store
) -> None:
    _, port = container
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}})
    assert http("POST", port, "/invocations", body) == (200, json.dumps({"predictions": model_store.expected}))
    status, text = http("POST", port, "/invocations", '{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}')
    assert status == 400 and "missing columns: n, color;" in text
    assert http("POST", port, "/invocations", "{nope")[0] == 400
    assert http("GET", port, "/livez")[0] == 200
    metrics = http("GET", port, "/metrics")[1]
    assert 'mlci_http_requests_total{path="/invocations",status="400"} 2.0' in metrics
    assert f'model_info{{name="demo",run_id="{model_store.run_id}",version="1"}} 1.0' in metrics


def test_container_stops_on_sigterm_under_load_without_a_failed_request(container: tuple[Any, int]) -> None:
    c, port = container
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS[:1]}}).encode()
    stop = threading.Event()
    results: list[loadgen.LoadResult] = []
    runner = threading.Thread(target=lambda: results.append(loadgen.run("127.0.0.1", port, body, 8, 60.0, stop)))
    runner.start()
    time.sleep(1.5)
    c.kill(signal="SIGTERM")
    # The load balancer's role: stop sending once readiness fails (within the 1 s drain window).
    deadline = time.monotonic() + 0.8
    while http("GET", port, "/readyz")[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join()
    assert c.wait(timeout=30)["StatusCode"] == 0
    result = results[0]
    assert result.failed == 0, (result.statuses, result.errors)
    assert result.statuses[200] > 50


def test_new_model_version_rebuilds_only_the_model_layer_and_tags_are_not_moved(
    built: Build, model_store: Store
) -> None:
    with use_store(model_store.tracking_uri):
        log_sklearn("demo", model_store.experiment_id, c=0.5)  # version 2, same requirements
    second = mlci_build(built.project, model_store, modelUri="models:/demo/2")
    assert second.code == 0, second.stderr
    assert second.result["outputs"]["buildSeconds"] <= 10
    assert "reusing wheels" in second.stderr
    log = (built.project / "reports" / "build" / "build.log").read_text()
    # Every step before mlci's own layer is cached (that layer follows mlci's source, which may
    # change between the two builds); the dependency install above all.
    assert re.search(r"Step 3/15 : RUN python3 -m venv [^\n]*\n ---> Using cache", log), log
    assert log.count("Using cache") >= 9, log
    assert second.result["outputs"]["digest"] != built.result["outputs"]["digest"]
    # Version 2's image under version 1's tag: refused before anything is built, then allowed
    # when asked.
    log_file = built.project / "reports" / "build" / "build.log"
    log_file.unlink()
    taken = mlci_build(built.project, model_store, modelUri="models:/demo/2", tag="1")
    assert taken.code == 1
    assert f"demo:1 already exists with digest {built.result['outputs']['digest']}" in taken.result["summary"]
    assert "build step" not in taken.stderr and "wheels" not in taken.stderr, taken.stderr
    assert not log_file.exists()
    moved = mlci_build(built.project, model_store, modelUri="models:/demo/2", tag="1", overwriteTag=True)
    assert moved.code == 0
    assert moved.result["outputs"]["digest"] == second.result["outputs"]["digest"]


def test_a_missing_model_is_bad_input(built: Build, model_store: Store) -> None:
    out = mlci_build(built.project, model_store, modelUri="models:/demo/99")
    assert out.code == 2
    assert out.result["summary"].startswith("modelUri models:/demo/99:")


def test_base_image_rebuild_is_a_noop_or_a_reimport(base_image: str) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [str(MLCI), "base-image", "--cache-dir", str(REPO / ".cache" / "base-image")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{base_image} is up to date" in proc.stderr
    assert json.loads(proc.stdout)["tag"] == base_image
    assert time.monotonic() - started < 10


def test_no_docker_daemon_is_an_infrastructure_error_naming_it(
    built: Build, model_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    out = mlci_build(built.project, model_store, modelUri="models:/demo/1")
    assert out.code == 3
    assert out.result["service"] == "Docker daemon (unix:///nonexistent/docker.sock)"
    assert out.result["summary"].startswith("Docker daemon (unix:///nonexistent/docker.sock): not reachable")


def test_push_to_a_registry_that_requires_a_login(
    built: Build,
    registry: str,
    model_store: Store,
    login_registry: LoginRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, password = login_registry.address, login_registry.password
    project = tmp_path / "project"
    config = (built.project / ".mlci.yml").read_text()
    write(project / ".mlci.yml", config.replace(f'registry: "{registry}"', f'registry: "{address}"'))
    # No credentials anywhere (an empty docker config): refused by the registry, exit 3 naming it.
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty-docker-config"))
    anonymous = mlci_build(project, model_store, modelUri="models:/demo/1")
    assert anonymous.code == 3, anonymous.stderr
    assert anonymous.result["service"] == f"registry ({address})"
    assert "unauthorized" in anonymous.result["summary"].lower() or "auth" in anonymous.result["summary"].lower()

    # Credentials from the env names the Jenkins step binds (withCredentials): pushed, never printed.
    monkeypatch.setenv("MLCI_REGISTRY_USERNAME", login_registry.username)
    monkeypatch.setenv("MLCI_REGISTRY_PASSWORD", password)
    pushed = mlci_build(project, model_store, modelUri="models:/demo/1")
    assert pushed.code == 0, pushed.stderr
    digest = pushed.result["outputs"]["digest"]
    assert pushed.result["outputs"]["reference"] == f"{address}/demo@{digest}"
    texts = [pushed.stderr, json.dumps(pushed.result), *(p.read_text() for p in (project / "reports").rglob("*.log"))]
    assert not [t for t in texts if password in t]

    # The registry really holds it, and really wants a login for it.
    manifest = f"http://{address}/v2/demo/manifests/{digest}"
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(manifest, headers=accept), timeout=10)
    assert refused.value.code == 401
    token = base64.b64encode(f"{login_registry.username}:{password}".encode()).decode()
    authed = urllib.request.Request(manifest, headers={**accept, "Authorization": f"Basic {token}"})
    with urllib.request.urlopen(authed, timeout=10) as resp:  # noqa: S310 - local registry
        assert resp.headers["Docker-Content-Digest"] == digest

    # Without the env names, a docker config's `auths` entry (docker login's file) is used.
    monkeypatch.delenv("MLCI_REGISTRY_USERNAME")
    monkeypatch.delenv("MLCI_REGISTRY_PASSWORD")
    docker_config = tmp_path / "docker-config"
    write(docker_config / "config.json", json.dumps({"auths": {address: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    again = mlci_build(project, model_store, modelUri="models:/demo/1")
    assert again.code == 0, again.stderr
    assert again.result["outputs"]["digest"] == digest


def build_in(cwd: Path, config: Path, env: dict[str, str] | None = None, **params: Any) -> Build:
    """`mlci build` run from `cwd` (a Jenkins workspace above the project) with no MLflow env:
    only the config names the store."""
    (cwd / "params.json").write_text(json.dumps({"configFile": str(config), **params}))
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run(
        [str(MLCI), "build", "--params", "params.json", "--result", "result.json"],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Build(config.parent, json.loads((cwd / "result.json").read_text()), proc.returncode, proc.stderr)


def store_project(root: Path, tracking_uri: str) -> Path:
    return write(
        root / "project" / ".mlci.yml",
        config_text(tracking_uri, "registry: 127.0.0.1:5000", mlflow="timeout_seconds: 2"),
    )


def test_a_relative_sqlite_uri_is_the_projects_store_wherever_the_cli_runs(
    model_store: Store, docker_engine: str, tmp_path: Path
) -> None:
    config = store_project(tmp_path, "sqlite:///.mlci/mlflow.db")
    (config.parent / ".mlci").mkdir()
    shutil.copy(model_store.root / "mlflow.db", config.parent / ".mlci" / "mlflow.db")
    out = build_in(tmp_path, config, modelUri="models:/demo/99")
    # The project's store answered (it has model demo, not version 99); none appeared in the cwd.
    assert out.code == 2, out.stderr
    assert "Model Version (name=demo, version=99) not found" in out.result["summary"]
    assert not (tmp_path / ".mlci").exists()


def test_a_closed_port_fails_in_seconds_naming_the_server(tmp_path: Path) -> None:
    with refused_url() as url:
        started = time.monotonic()
        out = build_in(tmp_path, store_project(tmp_path, url))
        seconds = time.monotonic() - started
    assert out.code == 3, out.stderr
    assert out.result["service"] == f"MLflow at {url}"
    assert out.result["summary"].startswith(f"MLflow at {url}: connecting: unreachable")
    assert seconds < 30, f"{seconds:.0f} s to fail against a closed port"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no MLflow store at {path} (missing or empty)"),
        (b"", "no MLflow store at {path} (missing or empty)"),
        (b"not a database\n" * 100, "{path} is not an SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "connecting: the sqlite store is unusable"),
    ],
)
def test_a_missing_or_corrupt_sqlite_store_is_exit_3_with_a_message(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    config = store_project(tmp_path, "sqlite:///.mlci/mlflow.db")
    path = config.parent / ".mlci" / "mlflow.db"
    if content is not None:
        path.parent.mkdir()
        path.write_bytes(content)
    out = build_in(tmp_path, config)
    assert out.code == 3, out.stderr
    assert out.result["summary"].startswith(f"MLflow at sqlite:///{path}: " + expected.format(path=path))
    assert "Traceback" not in out.stderr
    assert path.read_bytes() == (content or b"") if content is not None else not path.exists()
