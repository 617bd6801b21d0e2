"""`mlci serve` under greedy and slow clients: request bytes in progress are bounded (503 for the
excess, memory stays in bounds) and a client that stalls while sending is disconnected."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path

from services.model_store import COLUMNS, ROWS, Store
from test_server import post, split, start, stop

MIB = 1024 * 1024


def big_body(size: int) -> bytes:
    rows = ROWS * (size // len(split().encode()))
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}}).encode()


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def post_raw(port: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_concurrent_large_bodies_beyond_the_budget_get_503_and_memory_stays_bounded(
    model_store: Store, tmp_path: Path
) -> None:
    budget = 12 * MIB
    srv = start(model_store.model_dir, tmp_path, "--max-inflight-bytes", str(budget))
    try:
        body = big_body(4 * MIB)
        assert post_raw(srv.port, body)[0] == 200  # one alone: the allocator has seen a request this size
        baseline = status_kib(srv.proc.pid, "VmRSS")
        results: list[tuple[int, dict[str, str], bytes]] = []
        barrier = threading.Barrier(16)

        def one() -> None:
            barrier.wait()
            results.append(post_raw(srv.port, body))

        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        peak = status_kib(srv.proc.pid, "VmHWM")
        statuses = sorted(s for s, _, _ in results)
        assert len(statuses) == 16 and set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
        busy = next((h, b) for s, h, b in results if s == 503)
        assert busy[0].get("retry-after") == "1"
        assert json.loads(busy[1])["error_code"] == "SERVER_BUSY"
        assert "--max-inflight-bytes" in json.loads(busy[1])["message"]
        # Parsing costs about 5x a body; without the budget 16 bodies of 4 MiB held ~300 MB more.
        grown = (peak - baseline) * 1024
        assert grown < 8 * budget, f"peak RSS grew {grown / MIB:.0f} MiB over {baseline / 1024:.0f} MiB"
        assert post(srv, split())[0] == 200
    finally:
        stop(srv)


def read_all(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends until it closes the connection, or `seconds` pass."""
    sock.settimeout(seconds)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        return out + b"<still open>"
    return out


def trickle(sock: socket.socket, data: bytes, stop_event: threading.Event) -> None:
    for byte in data:
        if stop_event.wait(0.3):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def test_clients_that_stall_while_sending_are_disconnected_within_the_timeout(
    model_store: Store, tmp_path: Path
) -> None:
    srv = start(model_store.model_dir, tmp_path, "--read-timeout", "2")
    body = split().encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    cases = {
        "body trickled after the head": (head.encode(), body, b"the request body took longer than 2 s"),
        "head trickled": (b"", head.encode(), b"the request head took longer than 2 s"),
    }
    try:
        for case, (first, slow, message) in cases.items():
            done = threading.Event()
            with socket.create_connection(("127.0.0.1", srv.port)) as sock:
                sock.sendall(first)
                sender = threading.Thread(target=trickle, args=(sock, slow, done))
                started = time.monotonic()
                sender.start()
                got = read_all(sock, 8)
                took = time.monotonic() - started
                done.set()
                sender.join()
            assert got.startswith(b"HTTP/1.1 408 "), (case, got)
            assert message in got, (case, got)
            assert not got.endswith(b"<still open>"), case
            assert 1.5 < took < 4, (case, took)
            assert post(srv, split())[0] == 200  # the others are served meanwhile and after
        # A client that connects and never sends is closed after the keep-alive timeout (5 s).
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            started = time.monotonic()
            assert read_all(sock, 10) == b""
            assert time.monotonic() - started < 7
    finally:
        stop(srv)
