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


# The pipeline, in order. A new stage is one line here plus its step.
STAGES: tuple[Stage, ...] = (Stage("test", "mlTest", lambda c: c.test.enabled),)


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
