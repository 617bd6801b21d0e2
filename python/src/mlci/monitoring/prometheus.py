"""Prometheus' HTTP API (`/api/v1/query`), standard library only: one instant query at a time.

Any failure to get an answer (unreachable, HTTP error, an error status in the body) is an
infrastructure error naming the server, so a monitor never decides on data it did not get.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mlci import masking
from mlci.errors import InfrastructureError

TIMEOUT_SECONDS = 10
Sample = tuple[dict[str, str], float]


def query(url: str, promql: str) -> list[Sample]:
    """The instant vector of `promql`: (labels, value) per series; a scalar is one sample."""
    address = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    service = f"prometheus {url}"
    try:
        with urllib.request.urlopen(address, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310 - operator's URL
            body: dict[str, Any] = json.load(resp)
    except urllib.error.HTTPError as err:
        raise InfrastructureError(service, f"query {promql!r} answered HTTP {err.code}: {_error(err)}") from None
    except (OSError, ValueError) as err:  # URLError, timeouts, a bad URL, a body that is not JSON
        raise InfrastructureError(service, f"unreachable or not Prometheus ({err})") from None
    if body.get("status") != "success":
        raise InfrastructureError(service, f"query {promql!r} failed: {masking.excerpt(str(body.get('error', body)))}")
    data = body.get("data", {})
    if data.get("resultType") == "scalar":
        return [({}, float(data["result"][1]))]
    return [(dict(item.get("metric", {})), float(item["value"][1])) for item in data.get("result", [])]


def _error(err: urllib.error.HTTPError) -> str:
    try:
        return masking.excerpt(str(json.loads(err.read()).get("error", err.reason)))
    except (OSError, ValueError, AttributeError):
        return str(err.reason)


def string(value: str) -> str:
    """`value` as a PromQL string literal (double-quoted, backslashes and quotes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def one(url: str, promql: str) -> float | None:
    """The value of a query that aggregates to one series, None when it has none (no data)."""
    samples = query(url, promql)
    return samples[0][1] if samples else None
