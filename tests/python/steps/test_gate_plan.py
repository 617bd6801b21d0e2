"""Where the model gate's stages sit in the plan, and when promote waits for an approval."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, write
from mlci import config, plan

DEPLOY = """\
deploy:
  - name: prod
    type: ansible
    environment: production
"""


def stages(tmp_path: Path, extra: str) -> list[tuple[str, str]]:
    text = "model:\n  name: churn\n  task: classification\ntraining:\n  command: [python, train.py]\n" + extra
    cfg = config.load(write(tmp_path / ".mlci.yml", text)).config
    return [(s["name"], s["kind"]) for s in plan.build(cfg) if s["name"] not in ("test", "data-validate")]


def test_gate_stages_in_order_with_approval_before_promote(tmp_path: Path) -> None:
    assert stages(tmp_path, "") == [
        ("train", "run"),
        ("validate", "run"),
        ("register", "run"),
        ("approve-promote", "approval"),
        ("promote", "run"),
    ]


def test_continuous_deployment_promotes_without_approval(tmp_path: Path) -> None:
    names = stages(tmp_path, "pipeline:\n  continuous_deployment: true\n")
    assert ("approve-promote", "approval") not in names and names[-1] == ("promote", "run")


def test_a_production_deploy_approval_covers_promote(tmp_path: Path) -> None:
    assert ("approve-promote", "approval") not in stages(tmp_path, DEPLOY)


def test_no_training_command_no_gate_stages(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path / ".mlci.yml", "model:\n  name: m\n  task: regression\n")).config
    assert not {"train", "validate", "register", "promote"} & {s["name"] for s in plan.build(cfg)}


def test_the_example_enables_the_gate(tmp_path: Path) -> None:
    cfg = config.load(REPO / "examples" / "churn" / ".mlci.yml").config
    names = [s["name"] for s in plan.build(cfg)]
    assert names.index("train") < names.index("validate") < names.index("register") < names.index("promote")
