"""The framework matrix, deployed: the scikit-learn regressor and the LightGBM model built by
`mlci build`, deployed by `mlci deploy` with the bundled playbooks to two local hosts behind
HAProxy, and smoke-tested through the load balancer with the holdout as it is (id and group
columns included)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "python"), str(REPO / "tests" / "frameworks")]
from kit import FRAMEWORKS, Framework, Trained, cli, train_project  # noqa: E402
from services import deploy_site  # noqa: E402
from services.docker_engine import base_image, docker_engine  # noqa: E402, F401
from services.ports import free_port  # noqa: E402
from services.registry import registry  # noqa: E402, F401

DEPLOYED = [fw for fw in FRAMEWORKS if fw.deploy]


def target(service: str, lb_port: int) -> str:
    return f"""\
deploy:
  - name: site
    type: ansible
    environment: staging
    strategy: rolling
    inventory: inventory.yml
    service: {service}
    url: http://127.0.0.1:{lb_port}
    smoke:
      rows: 8
      batch_rows: 4
    vars:
      mlci_server_ready_timeout: 90
"""


@pytest.fixture(scope="module", params=DEPLOYED, ids=lambda fw: fw.name)
def project(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    registry: str,  # noqa: F811
    base_image: str,  # noqa: F811
) -> Iterator[tuple[Trained, str]]:
    fw: Framework = request.param
    service, lb_port = f"fwd{os.getpid()}{DEPLOYED.index(request.param)}", free_port()
    # A short path: HAProxy's admin socket lives under it, and socket paths stop at 107 bytes.
    root = tmp_path_factory.mktemp("fwd") / "p"
    for trained in train_project(
        fw, root, registry, base_image, ("champion",), target(service, lb_port), name=f"fwd-{fw.name.replace('_', '-')}"
    ):
        # Its own model name (so its own registry repository): the gate module pushed `fw-…:1`.
        inventory = yaml.safe_load(deploy_site.inventory(root, service, lb_port, None, local=2))
        (root / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
        site = deploy_site.Site(root, root / "state", service, lb_port, None, ["local1", "local2"])  # type: ignore[arg-type]
        try:
            yield trained, service
        finally:
            deploy_site.remove(site)


def test_deploy_and_smoke_test_through_the_load_balancer(project: tuple[Trained, str]) -> None:
    trained, service = project
    code, built, log = cli(trained.root, "build", configFile=".mlci.yml", modelUri=trained.model_uri)
    assert code == 0, log[-3000:]
    reference = str(built["outputs"]["reference"])  # type: ignore[index]
    code, result, log = cli(trained.root, "deploy", configFile=".mlci.yml", target="site", image=reference)
    assert code == 0, log[-3000:]
    assert result["status"] == "passed"
    code, smoke, log = cli(trained.root, "smoke", configFile=".mlci.yml", target="site")
    assert code == 0, f"{smoke['summary']}\n{log[-2000:]}"
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=io.mlci.service={service}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    images = [
        subprocess.run(
            ["docker", "container", "inspect", "--format", "{{.Config.Image}}", i],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for i in ids
    ]
    assert images == [reference, reference], images
