"""A small closed-loop load generator: N clients, each with one keep-alive connection, sending
the same request back to back. Used by the tests (drain under load, the built image under load)
and the serving benchmark; nothing the product runs uses it. Connection failures are counted as
failed requests, never retried.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # exception type -> count
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(p * 10) - 1]


def run(
    host: str,
    port: int,
    body: bytes,
    clients: int = 8,
    seconds: float = 5.0,
    stop: threading.Event | None = None,
    path: str = "/invocations",
    content_type: str = "application/json",
) -> LoadResult:
    """Send `body` from `clients` threads for `seconds`, or until `stop` is set."""
    stop = stop or threading.Event()
    lock = threading.Lock()
    result = LoadResult(0.0)
    headers = {"Content-Type": content_type}

    def client() -> None:
        conn: http.client.HTTPConnection | None = None
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        latencies: list[float] = []
        while not stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30)
            started = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                resp.read()
                statuses[resp.status] += 1
                if resp.status == 200:
                    latencies.append(time.perf_counter() - started)
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                errors[type(err).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            result.statuses.update(statuses)
            result.errors.update(errors)
            result.latencies.extend(latencies)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - started
    return result
