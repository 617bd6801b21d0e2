"""The retrain cooldown, kept as tags on the registered model: every monitor run on any agent
reads the same state (a Jenkins workspace is wiped and agents change; the registry is the one
store every run and the retrain job already share), and the reason sits next to the model.

Tags: `mlci.retrain.last_triggered_at` (epoch seconds), `.reason`, `.model_version`, `.queue_item`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mlci import tracking
from mlci.errors import InputError

PREFIX = "mlci.retrain."
AT, REASON, VERSION, QUEUE = (PREFIX + k for k in ("last_triggered_at", "reason", "model_version", "queue_item"))


@dataclass(frozen=True)
class Last:
    at: float
    reason: str

    def holds(self, hours: float, now: float) -> bool:
        return now - self.at < hours * 3600

    def until(self, hours: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at + hours * 3600))


class Registry:
    def __init__(self, cfg: Any, project_dir: Any) -> None:
        self.srv = tracking.server(cfg, project_dir)
        self.client = tracking.connect(self.srv)

    def _tags(self, model: str) -> dict[str, str]:
        with tracking.guard(self.srv, f"reading registered model {model}"):
            try:
                return dict(self.client.get_registered_model(model).tags)
            except Exception as err:
                if tracking.is_not_found(err):
                    raise InputError(f"model.name: {model!r} is not a registered model in {self.srv.name}") from None
                raise

    def last(self, model: str) -> Last | None:
        tags = self._tags(model)
        try:
            return Last(float(tags[AT]), tags.get(REASON, ""))
        except (KeyError, ValueError):
            return None

    def champion(self, model: str) -> str | None:
        with tracking.guard(self.srv, f"looking up {model}@champion"):
            try:
                return str(self.client.get_model_version_by_alias(model, "champion").version)
            except Exception as err:
                if tracking.is_not_found(err):
                    return None
                raise

    def record(self, model: str, at: float, reason: str, version: str | None, queue_item: int | None) -> None:
        tags = {AT: f"{at:.0f}", REASON: reason[:5000], VERSION: version or "", QUEUE: str(queue_item or "")}
        with tracking.guard(self.srv, f"tagging registered model {model}"):
            for key, value in tags.items():
                self.client.set_registered_model_tag(model, key, value)
