"""Steady load for deploy tests and benchmarks: paced keep-alive clients that send real rows to
a load balancer at a target rate, bounded in requests and time, counting every non-2xx answer
and every connection error as a failed request (never retried). As pooling clients (urllib3) do,
a kept-alive connection the server closed while it was idle is not reused. Traffic goes to
127.0.0.1 only.

On a shared, busy machine the generator and the servers compete for the same cores, so a fixed
rate may be more than the machine can deliver: `steady` measures what it delivers now
(`capacity`, unpaced clients for a few seconds) and offers a share of that, and every summary
says what was offered and measured. Failed requests are counted the same either way.
"""

from __future__ import annotations

import http.client
import json
import math
import select
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Traffic:
    started: float = 0.0
    stopped: float = 0.0
    ok: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, what)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, latency ms)
    offered: float = 0.0  # the target rate, req/s
    capacity: float | None = None  # what the machine delivered unpaced just before, req/s

    @property
    def requests(self) -> int:
        return self.ok + len(self.failures)

    @property
    def seconds(self) -> float:
        return self.stopped - self.started

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p99(self, start: float = 0.0, stop: float = math.inf) -> float:
        values = sorted(ms for t, ms in self.samples if start <= t < stop)
        return values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)] if values else math.nan

    def summary(self) -> str:
        first = self.failures[:3]
        measured = f", measured capacity {self.capacity:.0f}/s" if self.capacity is not None else ""
        return (
            f"{self.requests} requests in {self.seconds:.1f} s ({self.rate:.0f}/s of {self.offered:.0f}/s offered"
            f"{measured}), {len(self.failures)} failed {first}"
        )


class Load:
    """`with Load(port, payload) as traffic:` sends until the block ends (or the bounds hit)."""

    def __init__(
        self,
        port: int,
        payload: dict[str, Any],
        rate: float = 120.0,
        clients: int = 6,
        max_seconds: float = 600.0,
        host: str = "127.0.0.1",
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("load goes to the loopback interface only")
        self.host, self.port = host, port
        self.body = json.dumps(payload).encode()
        self.interval = clients / rate  # seconds between one client's requests
        self.clients = clients
        self.max_requests = int(rate * max_seconds)
        self.deadline_seconds = max_seconds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.traffic = Traffic(offered=rate)
        self.threads: list[threading.Thread] = []

    def _client(self, offset: float) -> None:
        conn: http.client.HTTPConnection | None = None
        t0 = self.traffic.started
        next_at = time.perf_counter() + offset
        while not self.stop.is_set():
            now = time.perf_counter()
            if now - t0 > self.deadline_seconds:
                break
            if next_at > now:
                time.sleep(next_at - now)
            next_at += self.interval
            with self.lock:
                if self.traffic.requests >= self.max_requests:
                    break
            if conn is not None and conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
                # Readable while idle: the server closed it (HAProxy does on a reload). Like
                # urllib3's pool, send on a fresh connection rather than on a closed one.
                conn.close()
                conn = None
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            began = time.perf_counter()
            what = ""
            try:
                conn.request("POST", "/invocations", self.body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
                if resp.status != 200:
                    what = f"HTTP {resp.status}: {raw[:120]!r}"
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                what = f"{type(err).__name__}: {err}"
                conn.close()
                conn = None
            ended = time.perf_counter()
            with self.lock:
                if what:
                    self.traffic.failures.append((ended - t0, what))
                else:
                    self.traffic.ok += 1
                    self.traffic.samples.append((ended - t0, (ended - began) * 1000))
        if conn is not None:
            conn.close()

    def __enter__(self) -> Traffic:
        self.traffic.started = time.perf_counter()
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i * self.interval / self.clients,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self.traffic

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.traffic.stopped = time.perf_counter()


def capacity(port: int, payload: dict[str, Any], clients: int, seconds: float = 3.0) -> Traffic:
    """What the machine delivers through `port` now: `clients` clients sending back to back."""
    with Load(port, payload, rate=10_000.0, clients=clients, max_seconds=seconds * 2) as traffic:
        time.sleep(seconds)
    return traffic


def steady(
    port: int, payload: dict[str, Any], rate: float, clients: int, share: float = 0.6, minimum: float = 20.0
) -> Load:
    """Load at `rate`, or at `share` of the measured capacity when the machine delivers less now.
    Fails (never skips) when even the measurement failed requests or the machine delivers less
    than `minimum` req/s: a deploy under such load would test nothing."""
    probe = capacity(port, payload, clients)
    if probe.failures:
        raise AssertionError(f"measuring capacity before the load: {probe.summary()}")
    if probe.rate < minimum:
        raise AssertionError(
            f"this machine delivers {probe.rate:.0f} req/s now (under {minimum:.0f}): {probe.summary()}"
        )
    load = Load(port, payload, rate=min(rate, share * probe.rate), clients=clients)
    load.traffic.capacity = probe.rate
    return load
