"""What a step gets and returns: the types every module under mlci.steps implements, apart from
the protocol that dispatches to them (mlci.protocol) so that neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pydantic and the config schema load only when a step runs
    from mlci import contracts
    from mlci.config import Config, LoadedConfig


@dataclass
class StepResult:
    """What a step returns; a failed gate is a result, not an exception."""

    status: Literal["passed", "failed"]
    summary: str
    outputs: dict[str, Any] = field(default_factory=dict)
    reports: list[Path] = field(default_factory=list)
    junit: Path | None = None


@dataclass
class StepContext:
    """What a step gets: its validated config, its options and where to put files."""

    contract: contracts.Contract
    loaded: LoadedConfig
    options: dict[str, Any]
    report_dir: Path
    # Where child processes (pytest, training) write: the log by default, a file under `mlci run`.
    output: IO[str] | None = None

    @property
    def config(self) -> Config:
        return self.loaded.config

    @property
    def project_dir(self) -> Path:
        return self.loaded.project_dir
