"""One module per step; each has `run(ctx: StepContext) -> StepResult`.

Modules are imported only when their step runs, so one step's heavy libraries never slow
another step or `mlci --help`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlci.protocol import StepContext, StepResult

# CLI command -> module under mlci.steps
MODULES = {
    "test": "test",
    "plan": "plan",
    "train": "train",
    "validate": "validate",
    "register": "register",
    "promote": "promote",
    "rollback-model": "rollback_model",
    "data-validate": "data_validate",
    "drift": "drift",
    "build": "build",
    "deploy": "deploy",
    "smoke": "smoke",
    "rollback": "rollback",
    "monitor": "monitor",
}


def run(command: str, ctx: StepContext) -> StepResult:
    module = importlib.import_module(f"mlci.steps.{MODULES[command]}")
    result: StepResult = module.run(ctx)
    return result
