"""`mlci rollback-model`: swap `champion` and `previous-champion` back, in one call.

Run again, it swaps forward: the two aliases always name the last two champions.
"""

from __future__ import annotations

import time

from mlci import aliases, tracking
from mlci.errors import InputError
from mlci.protocol import StepContext, StepResult
from mlci.steps.promote import CHAMPION, PREVIOUS


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    name = ctx.config.model.name
    store = aliases.store(tracking.server(ctx.config, ctx.project_dir))
    current = store.get(name, CHAMPION)
    previous = store.get(name, PREVIOUS)
    if previous is None:
        raise InputError(f"model {name} has no @{PREVIOUS}: nothing to roll back to")
    # champion first: the serving side follows champion, and both aliases stay valid versions.
    store.set(name, CHAMPION, previous.version)
    if current is not None:
        store.set(name, PREVIOUS, current.version)
    seconds = round(time.monotonic() - started, 3)
    was = current.version if current else None
    outputs = {"modelName": name, "version": previous.version, "previousVersion": was, "swapSeconds": seconds}
    return StepResult(
        "passed", f"{name} @{CHAMPION} rolled back to version {previous.version} (was {was}) in {seconds} s", outputs
    )
