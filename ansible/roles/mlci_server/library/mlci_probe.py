#!/usr/bin/python
"""Probe one model-server slot on its host: readiness, a smoke request, then a bounded burst."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlci_probe
short_description: Gate a model-server slot before it takes traffic
description:
  - Waits until the slot's readiness endpoint answers 200, failing fast when its container
    stops or restarts (a crash on start).
  - Sends the smoke payload once and checks the status, the response schema (a C(predictions)
    list with one item per row) and, when given, the expected predictions.
  - Then sends I(requests) more requests from I(concurrency) keep-alive clients and reports
    status counts and latency percentiles. The module reports; it never judges latency or
    error rates itself (the gate does, against the stable slot and the SLOs).
options:
  url:
    description: Base URL of the slot, as seen from its host (C(http://127.0.0.1:8081)).
    type: str
    required: true
  container:
    description: Container name, watched while waiting so a crash fails at once.
    type: str
  docker:
    description: Docker CLI used to watch the container.
    type: str
    default: docker
  ready_timeout:
    description: Seconds to wait for readiness.
    type: float
    default: 120
  ready_path:
    description: Readiness endpoint.
    type: str
    default: /readyz
  payload:
    description: Request body for C(/invocations) (MLflow scoring protocol). Empty skips the smoke and the burst.
    type: dict
    default: {}
  expected:
    description: Expected predictions for the payload's rows; empty skips the comparison.
    type: list
    elements: raw
    default: []
  tolerance:
    description: Relative and absolute tolerance when comparing numeric predictions (as mlci smoke).
    type: float
    default: 1.0e-6
  baseline_url:
    description:
      - Base URL of the stable slot. When given, the burst alternates requests between the new
        slot and this one, so both are measured under the same conditions (a busy host slows
        both alike), and C(baseline_burst) reports the stable slot's numbers.
    type: str
    default: ""
  warmup:
    description: Requests sent to each slot before the burst and left out of its numbers.
    type: int
    default: 20
  requests:
    description: Requests in the burst after the smoke request.
    type: int
    default: 200
  concurrency:
    description: Concurrent keep-alive clients in the burst.
    type: int
    default: 4
  timeout:
    description: Seconds one request may take.
    type: float
    default: 10
author: mlci
"""

RETURN = r"""
ready:
  description: Whether the slot became ready.
  returned: always
  type: bool
ready_seconds:
  description: Seconds until ready.
  returned: always
  type: float
smoke:
  description: Outcome of the smoke request (status, rows, problems).
  returned: when a payload was given
  type: dict
burst:
  description: requests, errors (non-2xx or connection failures), p50_ms, p99_ms, statuses.
  returned: when a payload was given
  type: dict
baseline_burst:
  description: The same numbers for the stable slot, measured alongside.
  returned: when baseline_url was given
  type: dict
"""

import http.client
import json
import math
import subprocess
import threading
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body, headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def container_state(docker, name):
    proc = subprocess.run(
        [docker, "container", "inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return "missing", 0, 0
    status, restarts, code = proc.stdout.split()
    return status, int(restarts), int(code)


def logs_tail(docker, name):
    proc = subprocess.run([docker, "logs", "--tail", "15", name], capture_output=True, text=True, check=False)
    return (proc.stdout + proc.stderr).strip().splitlines()[-15:]


def wait_ready(p, host, port):
    started = time.monotonic()
    deadline = started + p["ready_timeout"]
    last = "no answer"
    checked = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if p["container"] and now - checked >= 1.0:
            checked = now
            status, restarts, code = container_state(p["docker"], p["container"])
            if status != "running" or restarts > 0:
                return False, now - started, f"container {p['container']} {status} (exit code {code}, {restarts} restarts)"
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            status, body = request(conn, "GET", p["ready_path"])
            conn.close()
            if status == 200:
                return True, time.monotonic() - started, "ready"
            last = f"{p['ready_path']} answered {status}: {body[:200].decode(errors='replace').strip()}"
        except (OSError, http.client.HTTPException) as err:
            last = f"{p['ready_path']}: {type(err).__name__}: {err}"
        time.sleep(0.25)
    return False, time.monotonic() - started, f"not ready after {p['ready_timeout']:g} s: {last}"


def same(got, want, tolerance):
    """The smoke test's rule (mlci.deploy.smoke): numbers within `tolerance`, relative and
    absolute; anything else equal."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (got, want))
    if numbers:
        return math.isclose(got, want, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(got, bool) or isinstance(want, bool):  # True is not the label 1
        return type(got) is type(want) and got == want
    return got == want


def smoke(p, host, port, body):
    rows = None
    payload = p["payload"]
    for key in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        if key in payload:
            value = payload[key]
            rows = len(value["data"]) if key == "dataframe_split" else (len(value) if isinstance(value, list) else None)
    problems = []
    conn = http.client.HTTPConnection(host, port, timeout=p["timeout"])
    started = time.perf_counter()
    status, raw = request(conn, "POST", "/invocations", body)
    ms = (time.perf_counter() - started) * 1000
    conn.close()
    predictions = None
    if status != 200:
        problems.append(f"/invocations answered {status}: {raw[:300].decode(errors='replace')}")
    else:
        try:
            predictions = json.loads(raw).get("predictions")
        except (ValueError, AttributeError):
            predictions = None
        if not isinstance(predictions, list):
            problems.append("response has no 'predictions' list")
        elif rows is not None and len(predictions) != rows:
            problems.append(f"{len(predictions)} predictions for {rows} rows")
        elif p["expected"]:
            wrong = [i for i, (g, w) in enumerate(zip(predictions, p["expected"])) if not same(g, w, p["tolerance"])]
            if len(predictions) != len(p["expected"]) or wrong:
                problems.append(
                    f"{len(wrong)} of {len(p['expected'])} predictions differ from the expected ones (first at row {wrong[0] if wrong else len(predictions)})"
                )
    return {"status": status, "latency_ms": round(ms, 2), "rows": rows, "problems": problems}


class Stats:
    def __init__(self):
        self.statuses, self.errors, self.latencies = {}, {}, []

    def add(self, status, ms):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.latencies.append(ms)

    def error(self, name):
        self.errors[name] = self.errors.get(name, 0) + 1

    def report(self):
        values = sorted(self.latencies)

        def pct(q):
            return round(values[min(len(values) - 1, math.ceil(q * len(values)) - 1)], 2) if values else None

        failed = sum(n for s, n in self.statuses.items() if not 200 <= s < 300) + sum(self.errors.values())
        return {
            "requests": sum(self.statuses.values()) + sum(self.errors.values()),
            "errors": failed,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connection_errors": self.errors,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
        }


def burst(p, targets, body):
    """`requests` per target from `concurrency` clients; each client alternates between the
    targets, so they are measured side by side. Returns one Stats per target."""
    lock = threading.Lock()
    stats = [Stats() for _ in targets]
    remaining = [p["requests"]]

    def take():
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def send(conns, i, record):
        host, port = targets[i]
        if conns[i] is None:
            conns[i] = http.client.HTTPConnection(host, port, timeout=p["timeout"])
        started = time.perf_counter()
        try:
            status, _ = request(conns[i], "POST", "/invocations", body)
            if record:
                with lock:
                    stats[i].add(status, (time.perf_counter() - started) * 1000)
        except (OSError, http.client.HTTPException) as err:
            if record:
                with lock:
                    stats[i].error(type(err).__name__)
            conns[i].close()
            conns[i] = None

    def client():
        conns = [None] * len(targets)
        for _ in range(max(0, p["warmup"]) // max(1, p["concurrency"])):
            for i in range(len(targets)):
                send(conns, i, False)
        while take():
            for i in range(len(targets)):
                send(conns, i, True)
        for conn in conns:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(max(1, p["concurrency"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "container": {"type": "str"},
            "docker": {"type": "str", "default": "docker"},
            "ready_timeout": {"type": "float", "default": 120},
            "ready_path": {"type": "str", "default": "/readyz"},
            "payload": {"type": "dict", "default": {}},
            "expected": {"type": "list", "elements": "raw", "default": []},
            "tolerance": {"type": "float", "default": 1e-6},
            "baseline_url": {"type": "str", "default": ""},
            "warmup": {"type": "int", "default": 20},
            "requests": {"type": "int", "default": 200},
            "concurrency": {"type": "int", "default": 4},
            "timeout": {"type": "float", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, ready=True, ready_seconds=0.0, skipped_reason="check mode")
    parts = urlsplit(p["url"])
    host, port = parts.hostname, parts.port or 80
    ready, seconds, message = wait_ready(p, host, port)
    result = {"changed": False, "ready": ready, "ready_seconds": round(seconds, 2), "message": message}
    if not ready:
        if p["container"]:
            result["logs"] = logs_tail(p["docker"], p["container"])
        module.exit_json(**result)
    if p["payload"]:
        body = json.dumps(p["payload"]).encode()
        result["smoke"] = smoke(p, host, port, body)
        if not result["smoke"]["problems"] and p["requests"] > 0:
            targets = [(host, port)]
            if p["baseline_url"]:
                base = urlsplit(p["baseline_url"])
                targets.append((base.hostname, base.port or 80))
            stats = burst(p, targets, body)
            result["burst"] = stats[0].report()
            if len(stats) > 1:
                result["baseline_burst"] = stats[1].report()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
