"""`mlci serve`'s settings: flags, each with an environment variable the image sets.

Imports nothing heavy: `mlci --help` builds this parser.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    model_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    # Bodies of requests in progress, together: parsing costs about 5x a body's size in memory.
    max_inflight_bytes: int = 64 * 1024 * 1024
    read_timeout_seconds: float = 30.0
    timeout_seconds: float = 60.0
    max_batch_rows: int = 1000
    drain_seconds: float = 2.0
    capture_dir: Path | None = None
    capture_rate: float = 0.0
    name: str | None = None
    version: str | None = None
    run_id: str | None = None


# flag, Settings field, env variable, type, help
FLAGS: tuple[tuple[str, str, str, type, str], ...] = (
    ("--model-dir", "model_dir", "MLCI_MODEL_DIR", Path, "MLflow model directory (default /opt/ml/model)"),
    ("--host", "host", "MLCI_HOST", str, "address to listen on (default 127.0.0.1; images use 0.0.0.0)"),
    ("--port", "port", "MLCI_PORT", int, "port (default 8080)"),
    ("--max-body-bytes", "max_body_bytes", "MLCI_MAX_BODY_BYTES", int, "larger request bodies get 413"),
    (
        "--max-inflight-bytes",
        "max_inflight_bytes",
        "MLCI_MAX_INFLIGHT_BYTES",
        int,
        "bodies of concurrent requests together; beyond it 503 SERVER_BUSY",
    ),
    (
        "--read-timeout",
        "read_timeout_seconds",
        "MLCI_READ_TIMEOUT_SECONDS",
        float,
        "a client slower to send a request's head, or then its body, gets 408 and is disconnected",
    ),
    ("--timeout", "timeout_seconds", "MLCI_TIMEOUT_SECONDS", float, "a prediction taking longer gets 503"),
    (
        "--max-batch-rows",
        "max_batch_rows",
        "MLCI_MAX_BATCH_ROWS",
        int,
        "rows of concurrent requests predicted together",
    ),
    (
        "--drain-seconds",
        "drain_seconds",
        "MLCI_DRAIN_SECONDS",
        float,
        "after SIGTERM, keep serving (unready) this long",
    ),
    ("--capture-dir", "capture_dir", "MLCI_CAPTURE_DIR", Path, "write sampled request rows here (JSON Lines)"),
    ("--capture-rate", "capture_rate", "MLCI_CAPTURE_RATE", float, "share of requests captured, 0 to 1"),
    ("--model-name", "name", "MLCI_MODEL_NAME", str, "model name in metrics (images set it)"),
    ("--model-version", "version", "MLCI_MODEL_VERSION", str, "model version in metrics (images set it)"),
    ("--run-id", "run_id", "MLCI_MODEL_RUN_ID", str, "MLflow run id in metrics (default: from MLmodel)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, field, env, kind, text in FLAGS:
        parser.add_argument(
            flag, dest=field, type=kind, metavar=field.split("_")[-1].upper(), help=f"{text}; env {env}"
        )


def from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Flags win over environment variables, which win over the defaults."""
    from mlci.errors import InputError

    env = os.environ if environ is None else environ
    values: dict[str, object] = {"model_dir": Path("/opt/ml/model")}
    for _flag, field, name, kind, _ in FLAGS:
        given = getattr(args, field, None)
        if given is None and env.get(name):
            try:
                given = kind(env[name])
            except ValueError:
                raise InputError(f"{name}: expected {kind.__name__}, got {env[name]!r}") from None
        if given is not None:
            values[field] = given
    return Settings(**values)  # type: ignore[arg-type]
