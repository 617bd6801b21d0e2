"""`mlci plan`: the stages `.mlci.yml` enables (the mlPipeline step's first call)."""

from __future__ import annotations

from mlci import plan
from mlci.step import StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    stages = plan.build(ctx.config, ctx.options.get("stages"))
    return StepResult("passed", plan.describe(stages), {"stages": stages})
