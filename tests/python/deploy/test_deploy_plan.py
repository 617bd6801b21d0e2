"""Deploy stages in the pipeline's plan, and the deploy target schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write
from mlci import config, plan
from mlci.errors import InputError

TARGETS = """\
version: 1
model: {name: churn, task: classification}
training: {command: [python, train.py]}
image: {registry: "127.0.0.1:5000"}
deploy:
  - {name: stage, type: ansible, environment: staging, inventory: s.yml, url: "http://127.0.0.1:8100"}
  - {name: prod, type: ansible, environment: production, strategy: blue-green, inventory: p.yml}
"""


def test_deploy_stages_follow_build_and_production_is_approved_once(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path / ".mlci.yml", TARGETS))
    stages = plan.build(loaded.config)
    names = [s["name"] for s in stages]
    assert names[names.index("build") :] == [
        "build",
        "deploy-staging",
        "smoke-staging",
        "approve-deploy-production",
        "deploy-production",
        "promote",
    ]
    by_name = {s["name"]: s for s in stages}
    assert by_name["deploy-staging"]["params"] == {"target": "stage"}
    assert by_name["smoke-staging"]["step"] == "mlSmokeTest"
    assert by_name["deploy-production"]["params"] == {"target": "prod"}


def test_continuous_deployment_skips_the_approval(tmp_path: Path) -> None:
    text = TARGETS + "pipeline: {continuous_deployment: true}\n"
    names = [s["name"] for s in plan.build(config.load(write(tmp_path / ".mlci.yml", text)).config)]
    assert "approve-deploy-production" not in names and "deploy-production" in names


def test_no_url_no_smoke_stage(tmp_path: Path) -> None:
    text = TARGETS.replace(', url: "http://127.0.0.1:8100"', "")
    names = [s["name"] for s in plan.build(config.load(write(tmp_path / ".mlci.yml", text)).config)]
    assert "deploy-staging" in names and "smoke-staging" not in names


def test_a_canary_step_over_100_is_a_located_error(tmp_path: Path) -> None:
    text = TARGETS.replace("strategy: blue-green,", "strategy: canary, canary_steps: [5, 150],")
    with pytest.raises(InputError, match=r"\.mlci\.yml:7 deploy\[1\]\.canary_steps\[1\]"):
        config.load(write(tmp_path / ".mlci.yml", text))
