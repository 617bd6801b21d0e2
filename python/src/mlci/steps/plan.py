"""`mlci plan`: the stages `.mlci.yml` enables (the mlPipeline step's first call)."""

from __future__ import annotations

from mlci import plan
from mlci.protocol import StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    stages = plan.build(ctx.config, ctx.options.get("stages"))
    names = ", ".join(s["name"] for s in stages) or "none"
    return StepResult("passed", f"{len(stages)} stages: {names}", {"stages": stages})
