"""An Ansible callback that writes what `mlci deploy` reads of a playbook run (failures,
unreachable hosts, changed tasks, the recap) as JSON lines to the file in MLCI_ANSIBLE_EVENTS,
whatever stdout callback or result format the workspace's ansible.cfg sets for the human output.
mlci puts this folder on ANSIBLE_CALLBACK_PLUGINS for the playbooks it runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase  # type: ignore[import-untyped]

DOCUMENTATION = """
name: mlci_events
type: notification
short_description: machine-readable playbook events for mlci
description:
  - Writes task failures, unreachable hosts, changed tasks and the per-host recap as JSON lines
    to the file named by the MLCI_ANSIBLE_EVENTS environment variable; does nothing without it.
"""


def _message(result: dict[str, Any]) -> str:
    text = result.get("msg") or result.get("stderr") or json.dumps(result, default=str)
    return " ".join(str(text).split())[:1000]


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "mlci_events"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self) -> None:
        super().__init__()
        path = os.environ.get("MLCI_ANSIBLE_EVENTS")
        self._out = Path(path).open("a", encoding="utf-8") if path else None  # noqa: SIM115 - open for the run

    def _emit(self, **event: Any) -> None:
        if self._out is not None:
            self._out.write(json.dumps(event, default=str) + "\n")
            self._out.flush()

    def _where(self, result: Any) -> dict[str, str]:
        return {"host": result._host.get_name(), "task": result._task.get_name()}

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._emit(event="failed", ignored=bool(ignore_errors), msg=_message(result._result), **self._where(result))

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._emit(event="unreachable", msg=_message(result._result), **self._where(result))

    def v2_runner_on_ok(self, result: Any) -> None:
        if result._result.get("changed"):
            self._emit(event="changed", **self._where(result))

    def v2_playbook_on_stats(self, stats: Any) -> None:
        for host in sorted(stats.processed):
            counts = stats.summarize(host)
            keys = ("ok", "changed", "unreachable", "failures", "rescued")
            self._emit(event="recap", host=host, **{k: int(counts.get(k, 0)) for k in keys})
