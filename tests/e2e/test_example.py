"""`mlci run` on the bundled example, as `make demo` runs it, on a copy of the example: test,
data validation, training, the model gate, the image build and push, the rolling deploy to
staging and its smoke test, the approval, the blue-green deploy to production, the promotion."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The real services of the unit tests (tests/python/services/), imported as fixtures: a conftest
# here would be a second module named `conftest` and shadow tests/python's.
sys.path.insert(0, str(REPO / "tests" / "python"))
from services.docker_engine import base_image, docker_engine  # noqa: E402, F401
from services.ports import free_port  # noqa: E402
from services.registry import registry  # noqa: E402, F401

SERVICE_PREFIX = "churn-e2e"


def isolate(project: Path, registry_address: str) -> None:
    """This session's registry, and service names and ports of its own: a `make demo` on the
    same machine keeps its containers, load balancers and ports."""
    files = [project / ".mlci.yml", *(project / "deploy").glob("*.yml")]
    ports = {int(p) for f in files for p in re.findall(r"\b8[12]\d\d\b", f.read_text())}
    new = {port: free_port() for port in sorted(ports)}
    for file in files:
        text = file.read_text().replace('registry: "127.0.0.1:5000"', f'registry: "{registry_address}"')
        text = re.sub(r"\b8[12]\d\d\b", lambda m: str(new[int(m.group())]), text)
        file.write_text(text.replace("service: churn-", f"service: {SERVICE_PREFIX}-"))


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory, registry: str) -> Iterator[Path]:  # noqa: F811
    # A short path: HAProxy's admin socket lives under it, and socket paths stop at 107 bytes.
    project = tmp_path_factory.mktemp("e2e") / "churn"
    ignore = shutil.ignore_patterns("data", "model", "reports", ".mlci")
    shutil.copytree(REPO / "examples" / "churn", project, ignore=ignore)
    isolate(project, registry)
    try:
        yield project
    finally:
        names = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"name=mlci-{SERVICE_PREFIX}-"], capture_output=True, text=True
        ).stdout.split()
        if names:
            subprocess.run(["docker", "rm", "--force", *names], capture_output=True, check=False)
        for pid_file in (project / ".mlci" / "deploy").glob("*/lb/haproxy.pid"):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_example_pipeline_runs_locally(project: Path, base_image: str) -> None:  # noqa: F811
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JENKINS_URL", None)
    subprocess.run(
        [sys.executable, "make_data.py", "--rows", "2000", "--seed", "7", "--out", "data/"],
        cwd=project,
        check=True,
        env=env,
    )
    env["MLFLOW_TRACKING_URI"] = "sqlite:///.mlci/mlflow.db"  # as `make demo` sets it
    proc = subprocess.run([str(BIN / "mlci"), "run", "--yes"], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    stages = (
        "train",
        "validate",
        "register",
        "build",
        "deploy-staging",
        "smoke-staging",
        "deploy-production",
        "promote",
    )
    for stage in stages:
        assert json.loads((project / "reports" / "run" / f"{stage}.result.json").read_text())["status"] == "passed"
    assert proc.stdout.splitlines()[2].split()[:2] == ["test", "passed"]
    result = json.loads((project / "reports" / "run" / "test.result.json").read_text())
    assert result["outputs"]["tests"] >= 10 and result["outputs"]["failures"] == 0
    # Production's load balancer serves the promoted version.
    import yaml

    targets = {t["name"]: t for t in yaml.safe_load((project / ".mlci.yml").read_text())["deploy"]}
    with urllib.request.urlopen(targets["production"]["url"] + "/metrics", timeout=10) as resp:  # noqa: S310
        assert re.search(r'^model_info\{name="churn",run_id="\w+",version="1"\} 1\.0$', resp.read().decode(), re.M)
