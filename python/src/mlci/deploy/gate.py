"""The deploy gate: is the new version as good as the stable one, and within the SLOs?

Fail-closed, with Argo Rollouts' and Flagger's semantics: a window with fewer requests than
the minimum, or with no latency data, never passes. Observations come from the probe burst
the playbook sends to an idle slot, from two scrapes of the servers' `/metrics` (the window is
their difference) or from Prometheus. The playbooks run this module on the controller as
`python -m mlci.deploy.gate` with a JSON document on stdin; it prints the verdict as JSON and
exits 0 (passed), 1 (failed) or 2 (bad input). Standard library and mlci only: it starts fast and
needs nothing but the Python that runs ansible-playbook.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from mlci.errors import MlciError
from mlci.monitoring import prometheus

PATH = "/invocations"
REQUESTS = "mlci_http_requests_total"
BUCKETS = "mlci_http_request_duration_seconds_bucket"
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Observation:
    """What one side (candidate or stable) did in the window."""

    requests: float = 0.0
    errors: float = 0.0  # 5xx answers and, for a probe, connection failures
    p99_ms: float | None = None
    p50_ms: float | None = None
    # What the failed requests were, when the source says (a probe: "HTTP 500 x3", "TimeoutError x4").
    failed: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan


@dataclass
class Slo:
    min_requests: int = 50
    max_error_rate: float = 0.01
    max_error_rate_increase: float = 0.005  # over the stable side's rate
    max_p99_ms: float = 1000.0
    p99_factor: float = 1.5  # candidate p99 <= factor * stable p99 + slack
    p99_slack_ms: float = 25.0
    # The median moves with a slower build but hardly with a busy machine: the robust comparison.
    p50_factor: float = 2.0
    p50_slack_ms: float = 50.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Slo:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SLO keys: {', '.join(unknown)}")
        values: dict[str, Any] = {k: float(v) if k != "min_requests" else int(v) for k, v in data.items()}
        return cls(**values)


@dataclass
class Check:
    name: str
    value: float | None
    limit: float | None
    passed: bool
    detail: str = ""


@dataclass
class Verdict:
    passed: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def summary(self) -> str:
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return "gate passed: " + "; ".join(c.detail for c in self.checks)
        return "gate failed: " + "; ".join(c.detail for c in failed)


def evaluate(candidate: Observation, stable: Observation | None, slo: Slo) -> Verdict:
    """Every check runs, so the report names every reason, not only the first."""
    checks: list[Check] = []
    n = candidate.requests
    checks.append(
        Check(
            "min_requests", n, slo.min_requests, n >= slo.min_requests, f"{n:g} requests (minimum {slo.min_requests})"
        )
    )
    rate = candidate.error_rate
    checks.append(
        Check(
            "error_rate",
            None if math.isnan(rate) else rate,
            slo.max_error_rate,
            not math.isnan(rate) and rate <= slo.max_error_rate,
            f"error rate {_pct(rate)} (limit {_pct(slo.max_error_rate)})"
            + (f" [{', '.join(candidate.failed)}]" if candidate.failed and candidate.errors else ""),
        )
    )
    p99 = candidate.p99_ms
    checks.append(
        Check(
            "p99",
            p99,
            slo.max_p99_ms,
            p99 is not None and p99 <= slo.max_p99_ms,
            f"p99 {_ms(p99)} (SLO {slo.max_p99_ms:g} ms)",
        )
    )
    if stable is not None:
        base = stable.error_rate
        base = 0.0 if math.isnan(base) else base
        allowed = base + slo.max_error_rate_increase
        checks.append(
            Check(
                "error_rate_vs_stable",
                None if math.isnan(rate) else rate,
                allowed,
                not math.isnan(rate) and rate <= allowed,
                f"error rate {_pct(rate)} vs stable {_pct(base)} (allowed {_pct(allowed)})",
            )
        )
        if stable.p50_ms is not None:
            limit = stable.p50_ms * slo.p50_factor + slo.p50_slack_ms
            p50 = candidate.p50_ms
            checks.append(
                Check(
                    "p50_vs_stable",
                    p50,
                    limit,
                    p50 is not None and p50 <= limit,
                    f"p50 {_ms(p50)} vs stable {_ms(stable.p50_ms)} (allowed {_ms(limit)})",
                )
            )
        if stable.p99_ms is not None:
            limit = stable.p99_ms * slo.p99_factor + slo.p99_slack_ms
            checks.append(
                Check(
                    "p99_vs_stable",
                    p99,
                    limit,
                    p99 is not None and p99 <= limit,
                    f"p99 {_ms(p99)} vs stable {_ms(stable.p99_ms)} (allowed {_ms(limit)})",
                )
            )
    return Verdict(all(c.passed for c in checks), checks)


def _pct(value: float) -> str:
    return "no data" if math.isnan(value) else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f} ms"


# ---------------------------------------------------------------- sources


def from_probe(result: dict[str, Any]) -> Observation:
    """A probe burst (the mlci_probe module's `burst`); a slot that never got there has no data."""
    burst = result.get("burst") or {}
    statuses: dict[str, Any] = burst.get("statuses") or {}
    errors: dict[str, Any] = burst.get("connection_errors") or {}
    failed = [f"HTTP {code} x{n}" for code, n in sorted(statuses.items()) if not str(code).startswith("2")]
    failed += [f"{name} x{n}" for name, n in sorted(errors.items())]
    return Observation(
        float(burst.get("requests", 0)),
        float(burst.get("errors", 0)),
        burst.get("p99_ms"),
        burst.get("p50_ms"),
        tuple(failed),
    )


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text format -> {(name, sorted labels): value} for the series the gate reads."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match or match["name"] not in (REQUESTS, BUCKETS):
            continue
        labels = tuple(sorted(LABEL.findall(match["labels"] or "")))
        out[(match["name"], labels)] = float(match["value"])
    return out


def window(before: str | None, after: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Counter increase between two scrapes; a reset (restart) counts from zero, as `increase` does."""
    start = parse_metrics(before) if before else {}
    delta: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for key, value in parse_metrics(after).items():
        previous = start.get(key, 0.0)
        delta[key] = value - previous if value >= previous else value
    return delta


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """histogram_quantile over cumulative buckets (upper bound -> count), in seconds."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower_bound  # above the largest finite bucket: Prometheus answers its bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return None


def from_metrics(pairs: Iterable[tuple[str | None, str]]) -> Observation:
    """Sum the windows of several servers (before, after scrape texts) into one observation."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for before, after in pairs:
        for (name, labels), value in window(before, after).items():
            tags = dict(labels)
            if tags.get("path") != PATH:
                continue
            if name == REQUESTS:
                requests += value
                if tags.get("status", "").startswith("5"):
                    errors += value
            else:
                bound = math.inf if tags["le"] == "+Inf" else float(tags["le"])
                buckets[bound] = buckets.get(bound, 0.0) + value
    p99, p50 = quantile(0.99, buckets), quantile(0.5, buckets)
    return Observation(requests, errors, None if p99 is None else p99 * 1000, None if p50 is None else p50 * 1000)


def from_prometheus(url: str, instances: list[str], seconds: int) -> Observation:
    """The same observation from Prometheus, over the last `seconds`, for these scrape targets."""
    # The regex goes into a PromQL string, which escapes its backslashes once more.
    pattern = prometheus.string("|".join(re.escape(i) for i in instances))
    selector = f'path="{PATH}",instance=~{pattern}'
    span = f"{int(seconds)}s"
    requests = prometheus.one(url, f"sum(increase({REQUESTS}{{{selector}}}[{span}]))")
    errors = prometheus.one(url, f'sum(increase({REQUESTS}{{{selector},status=~"5.."}}[{span}]))')
    quantiles = [
        prometheus.one(url, f"histogram_quantile({q}, sum by (le) (rate({BUCKETS}{{{selector}}}[{span}])))")
        for q in (0.99, 0.5)
    ]
    p99, p50 = (None if v is None or math.isnan(v) else v * 1000 for v in quantiles)
    return Observation(requests or 0.0, errors or 0.0, p99, p50)


# ---------------------------------------------------------------- entry point


def run(doc: dict[str, Any]) -> Verdict:
    slo = Slo.from_dict(doc.get("slo") or {})
    kind = doc.get("kind")
    stable: Observation | None
    if kind == "probe":
        candidate = from_probe(doc["candidate"])
        stable = from_probe(doc["stable"]) if doc.get("stable") else None
    elif kind == "metrics":
        candidate = from_metrics((s.get("before"), s["after"]) for s in doc["candidate"])
        stable = from_metrics((s.get("before"), s["after"]) for s in doc["stable"]) if doc.get("stable") else None
    elif kind == "prometheus":
        seconds = int(doc["seconds"])
        candidate = from_prometheus(doc["url"], doc["candidate"], seconds)
        stable = from_prometheus(doc["url"], doc["stable"], seconds) if doc.get("stable") else None
    else:
        raise ValueError(f"kind must be probe, metrics or prometheus, got {kind!r}")
    verdict = evaluate(candidate, stable, slo)
    verdict.checks.insert(
        0,
        Check(
            "observed", None, None, True, f"candidate {asdict(candidate)}, stable {asdict(stable) if stable else None}"
        ),
    )
    return verdict


def main() -> int:
    try:
        doc = json.load(sys.stdin)
        verdict = run(doc)
    except (ValueError, KeyError, TypeError) as err:
        print(json.dumps({"passed": False, "summary": f"gate input invalid: {type(err).__name__}: {err}"}))
        return 2
    except MlciError as err:  # Prometheus unreachable or refusing: no data, and no data never passes
        print(json.dumps({"passed": False, "summary": f"gate failed: no metrics: {err}"}))
        return 1
    checks = [asdict(c) for c in verdict.checks[1:]]
    print(
        json.dumps(
            {
                "passed": verdict.passed,
                "summary": verdict.summary,
                "checks": checks,
                "observed": verdict.checks[0].detail,
            }
        )
    )
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
