"""One module per step, named for its CLI command (`rollback-model` is rollback_model.py); each
has `run(ctx: StepContext) -> StepResult`.

Modules are imported only when their step runs, so one step's heavy libraries never slow
another step or `mlci --help`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlci.step import StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    module = importlib.import_module(f"mlci.steps.{ctx.contract.command.replace('-', '_')}")
    result: StepResult = module.run(ctx)
    return result
