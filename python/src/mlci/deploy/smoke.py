"""Smoke test of a live endpoint: a small chunk of real holdout rows through `/invocations`,
checked for status, response schema, a latency budget and, optionally, expected predictions.
The same rows are the payload the playbooks send to a new slot before it takes traffic."""

from __future__ import annotations

import http.client
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlci.errors import InfrastructureError, InputError
from mlci.reports import Check

if TYPE_CHECKING:
    from mlci.config import Config, SmokeConfig


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    data: list[list[Any]]
    expected: list[Any]  # empty unless smoke.expected_column is set

    def payload(self, start: int = 0, stop: int | None = None) -> dict[str, Any]:
        return {"dataframe_split": {"columns": self.columns, "data": self.data[start:stop]}}


def holdout_rows(config: Config, project_dir: Path, smoke: SmokeConfig) -> Rows:
    """The first `smoke.rows` holdout rows, without the label column (and the expected one)."""
    if not config.data.holdout:
        raise InputError("data.holdout: required by smoke tests (real rows are sent to the endpoint)")
    path = project_dir / config.data.holdout
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, nrows=smoke.rows)
    except FileNotFoundError:
        raise InputError(f"data.holdout: {config.data.holdout} not found in {project_dir.resolve()}") from None
    except (UnicodeDecodeError, ValueError, OSError) as err:  # pandas' and Arrow's parse errors subclass these
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise InputError(f"data.holdout: {config.data.holdout} is unreadable: {first}") from None
    frame = frame.head(smoke.rows)
    if frame.empty:
        raise InputError(f"data.holdout: {config.data.holdout} has no rows")
    expected: list[Any] = []
    if smoke.expected_column:
        if smoke.expected_column not in frame.columns:
            raise InputError(f"smoke.expected_column: no column {smoke.expected_column!r} in {config.data.holdout}")
        expected = json.loads(frame[smoke.expected_column].to_json(orient="values"))
    drop = [c for c in (config.model.target, smoke.expected_column) if c and c in frame.columns]
    split = json.loads(frame.drop(columns=drop).to_json(orient="split", index=False))
    return Rows(split["columns"], split["data"], expected)


# Numbers match within this, relative and absolute: the same rule as the deploy gate's probe
# (the mlci_server role's mlci_server_smoke_tolerance, checked equal by a test).
TOLERANCE = 1e-6


def _same(got: Any, want: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (got, want))
    if numbers:
        return math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if isinstance(got, bool) or isinstance(want, bool):  # True is not the label 1
        return type(got) is type(want) and got == want
    return bool(got == want)


def check(url: str, rows: Rows, smoke: SmokeConfig) -> list[Check]:
    """Send the rows in requests of `smoke.batch_rows`; one check per request."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise InputError(f"url: expected http://host:port of the target's load balancer, got {url!r}")
    base = parts.path.rstrip("/")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=smoke.timeout_seconds)

    def send(body: dict[str, Any]) -> tuple[int, bytes]:
        try:
            conn.request("POST", f"{base}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as err:
            raise InfrastructureError(f"endpoint {url}", f"{type(err).__name__}: {err}") from None

    try:
        return check_with(send, rows, smoke)
    finally:
        conn.close()


def check_with(send: Callable[[dict[str, Any]], tuple[int, bytes]], rows: Rows, smoke: SmokeConfig) -> list[Check]:
    """The smoke checks over any transport: `send` posts one payload to /invocations and returns
    the status and body (a direct connection, or the Kubernetes API server's service proxy)."""
    checks: list[Check] = []
    for start in range(0, len(rows.data), smoke.batch_rows):
        stop = min(start + smoke.batch_rows, len(rows.data))
        began = time.perf_counter()
        status, raw = send(rows.payload(start, stop))
        ms = (time.perf_counter() - began) * 1000
        checks.append(
            _judge(f"rows {start}-{stop - 1}", status, raw, stop - start, ms, rows.expected[start:stop], smoke)
        )
    return checks


def _judge(name: str, status: int, raw: bytes, count: int, ms: float, expected: list[Any], smoke: SmokeConfig) -> Check:
    seconds = ms / 1000
    if status != 200:
        return Check(name, False, f"HTTP {status}: {raw[:200].decode(errors='replace')}", seconds=seconds)
    try:
        predictions = json.loads(raw).get("predictions")
    except (ValueError, AttributeError):
        predictions = None
    if not isinstance(predictions, list) or len(predictions) != count:
        got = len(predictions) if isinstance(predictions, list) else "no 'predictions' list"
        return Check(name, False, f"response schema: expected {count} predictions, got {got}", seconds=seconds)
    if ms > smoke.max_latency_ms:
        return Check(
            name, False, f"latency {ms:.0f} ms over the budget of {smoke.max_latency_ms:g} ms", seconds=seconds
        )
    wrong = [i for i, (g, w) in enumerate(zip(predictions, expected, strict=False)) if not _same(g, w)]
    if wrong:
        return Check(
            name, False, f"{len(wrong)} of {count} predictions differ from {smoke.expected_column}", seconds=seconds
        )
    return Check(name, True, f"HTTP 200, {count} predictions, {ms:.0f} ms", seconds=seconds)
