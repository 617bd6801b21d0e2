from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write
from mlci import config, plan
from mlci.errors import InputError

DEPLOY = plan.Stage("deploy-production", "mlTest", lambda c: True, lambda c: {"target": "prod"}, lambda c: True)


def load(tmp_path: Path, extra: str = "") -> config.Config:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\n" + extra)
    return config.load(path).config


def test_default_plan_runs_the_test_stage(tmp_path: Path) -> None:
    assert plan.build(load(tmp_path)) == [{"name": "test", "step": "mlTest", "kind": "run", "params": {}}]


def test_disabled_stage_is_left_out(tmp_path: Path) -> None:
    assert plan.build(load(tmp_path, "test:\n  enabled: false\n")) == []


def test_only_selects_and_rejects_unknown_names(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    assert [s["name"] for s in plan.build(cfg, ["test"])] == ["test"]
    with pytest.raises(InputError, match="stages: no stage named 'tset'; did you mean 'test'"):
        plan.build(cfg, ["tset"])


def test_approval_comes_before_a_stage_that_needs_it(tmp_path: Path) -> None:
    stages = plan.build(load(tmp_path, "pipeline:\n  approvers: ml-leads\n"), stages=(*plan.STAGES, DEPLOY))
    assert [(s["name"], s["kind"]) for s in stages] == [
        ("test", "run"),
        ("approve-deploy-production", "approval"),
        ("deploy-production", "run"),
    ]
    assert stages[1]["params"] == {
        "message": "Run deploy-production for model churn?",
        "ok": "Approve",
        "submitter": "ml-leads",
    }
    assert stages[2]["params"] == {"target": "prod"}


def test_continuous_deployment_drops_approval(tmp_path: Path) -> None:
    cfg = load(tmp_path, "pipeline:\n  continuous_deployment: true\n")
    kinds = [s["kind"] for s in plan.build(cfg, stages=(*plan.STAGES, DEPLOY))]
    assert kinds == ["run", "run"]
