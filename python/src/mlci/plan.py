"""The pipeline's order, once: which stages `.mlci.yml` enables, and where a human approves.

`mlci plan` prints it, `mlPipeline()` runs it as Jenkins stages, `mlci run` runs it locally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlci.config import Config
from mlci.contracts import did_you_mean
from mlci.errors import InputError


@dataclass(frozen=True)
class Stage:
    name: str
    step: str
    enabled: Callable[[Config], bool]
    params: Callable[[Config], dict[str, Any]] = field(default=lambda _: {})
    # A human approves before this stage unless continuous deployment is on.
    needs_approval: Callable[[Config], bool] = field(default=lambda _: False)


def _promote_approval(config: Config) -> bool:
    return not any(t.environment == "production" for t in config.deploy)


def _target(config: Config, environment: str) -> Any:
    """The first deploy target of an environment: the pipeline deploys there."""
    return next((t for t in config.deploy if t.environment == environment), None)


def _target_param(config: Config, environment: str) -> dict[str, Any]:
    return {"target": _target(config, environment).name}


# The pipeline, in order. A new stage is one line here plus its step.
STAGES: tuple[Stage, ...] = (
    Stage("test", "mlTest", lambda c: c.test.enabled),
    Stage("data-validate", "mlDataValidate", lambda c: c.data.suite is not None),
    Stage("train", "mlTrain", lambda c: c.training.command is not None),
    Stage("validate", "mlValidate", lambda c: c.training.command is not None),
    Stage("register", "mlRegister", lambda c: c.training.command is not None),
    Stage("build", "mlBuildImage", lambda c: c.image.registry is not None),
    Stage(
        "deploy-staging", "mlDeploy", lambda c: _target(c, "staging") is not None, lambda c: _target_param(c, "staging")
    ),
    Stage(
        "smoke-staging",
        "mlSmokeTest",
        lambda c: getattr(_target(c, "staging"), "url", None) is not None,
        lambda c: _target_param(c, "staging"),
    ),
    Stage(
        "deploy-production",
        "mlDeploy",
        lambda c: _target(c, "production") is not None,
        lambda c: _target_param(c, "production"),
        needs_approval=lambda _: True,
    ),
    # Last; approved on its own unless a production deploy before it already asked.
    Stage("promote", "mlPromote", lambda c: c.training.command is not None, needs_approval=_promote_approval),
)


def build(
    config: Config, only: Sequence[str] | None = None, stages: Sequence[Stage] | None = None
) -> list[dict[str, Any]]:
    """The enabled stages as plain data: name, step, kind (run | approval), params."""
    stages = STAGES if stages is None else stages
    if only:
        known = [s.name for s in stages]
        for name in only:
            if name not in known:
                raise InputError(f"stages: no stage named {name!r}{did_you_mean(name, known)}")
    plan: list[dict[str, Any]] = []
    for stage in stages:
        if not stage.enabled(config) or (only and stage.name not in only):
            continue
        if stage.needs_approval(config) and not config.pipeline.continuous_deployment:
            approval: dict[str, Any] = {"message": f"Run {stage.name} for model {config.model.name}?", "ok": "Approve"}
            if config.pipeline.approvers:
                approval["submitter"] = config.pipeline.approvers
            plan.append({"name": f"approve-{stage.name}", "step": None, "kind": "approval", "params": approval})
        plan.append({"name": stage.name, "step": stage.step, "kind": "run", "params": stage.params(config)})
    return plan


def describe(stages: list[dict[str, Any]]) -> str:
    """`2 stages: test, deploy` for log lines and summaries."""
    names = ", ".join(s["name"] for s in stages) or "none"
    return f"{len(stages)} stage{'' if len(stages) == 1 else 's'}: {names}"
