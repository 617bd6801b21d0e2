"""`mlci serve` as a real process on a free port: protocol, errors, metrics, capture, drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from services.model_store import COLUMNS, ROWS, Store
from services.ports import free_port

from conftest import MLCI
from mlci.serving import loadgen


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start(model_dir: Path, tmp: Path, *args: str) -> Server:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MLCI), "serve", "--model-dir", str(model_dir), "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLCI_MODEL_NAME": "demo", "MLCI_MODEL_VERSION": "1"},
        )
    server = Server(proc, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlci serve exited {proc.returncode}: {log.read_text()}")
        if get(server, "/readyz")[0] == 200:
            return server
        time.sleep(0.1)
    raise RuntimeError(f"not ready: {log.read_text()}")


def stop(server: Server) -> int:
    server.proc.send_signal(signal.SIGTERM)
    return server.proc.wait(timeout=30)


def get(server: Server, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=5) as resp:  # noqa: S310 - local server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def post(server: Server, body: bytes | str, content_type: str = "application/json") -> tuple[int, dict]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(  # noqa: S310 - local server
        server.url + "/invocations", data=data, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - local server
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def split(rows: list[list[object]] = ROWS, columns: list[str] = COLUMNS) -> str:
    return json.dumps({"dataframe_split": {"columns": columns, "data": rows}})


@pytest.fixture(scope="module")
def server(model_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    srv = start(
        model_store.model_dir,
        tmp,
        "--max-body-bytes",
        "20000",
        "--capture-dir",
        str(tmp / "capture"),
        "--capture-rate",
        "1",
    )
    yield srv
    stop(srv)


def metric(server: Server, name: str) -> float:
    """The value of one sample line, e.g. `mlci_http_requests_total{path="/invocations",status="400"}`."""
    text = get(server, "/metrics")[1]
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_probes_and_version(server: Server) -> None:
    assert get(server, "/livez") == (200, "ok\n")
    assert get(server, "/readyz") == (200, "ready\n")
    assert get(server, "/ping")[0] == 200
    assert get(server, "/health")[0] == 200
    from importlib import metadata

    assert get(server, "/version") == (200, metadata.version("mlflow"))


def test_every_input_format_gives_the_model_predictions(server: Server, model_store: Store) -> None:
    records = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]
    columns = {c: [row[i] for row in ROWS] for i, c in enumerate(COLUMNS)}
    bodies = [
        split(),
        json.dumps({"dataframe_records": records}),
        json.dumps({"instances": records}),
        json.dumps({"inputs": columns}),
        json.dumps({"instances": ROWS}),  # positional rows, in the signature's column order
    ]
    for body in bodies:
        assert post(server, body) == (200, {"predictions": model_store.expected}), body
    csv = "x,n,color,extra\n" + "\n".join(",".join("" if v is None else str(v) for v in row) for row in ROWS)
    assert post(server, csv, "text/csv") == (200, {"predictions": model_store.expected})
    # The optional column may be left out; extra columns are ignored, as MLflow does.
    assert post(server, split([r[:3] for r in ROWS], COLUMNS[:3]))[0] == 200
    assert post(server, split([[*r, "x"] for r in ROWS], [*COLUMNS, "unused"]))[1] == {
        "predictions": model_store.expected
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{not json", "application/json", 400, "malformed JSON: Expecting property name"),
        ('{"rows": []}', "application/json", 400, "expected exactly one of dataframe_split"),
        ("[1, 2]", "application/json", 400, "expected a JSON object with one of"),
        (
            split([[0.5, 1, "red", 0.1]], ["x", "count", "color", "extra"]),
            "application/json",
            400,
            "missing column: n;",
        ),
        (
            split([[0.5, "seven", "red", 0.1]]),
            "application/json",
            400,
            'column n: expected an integer (long), got "seven" at row 0',
        ),
        (
            split([[0.5, 1.5, "red", 0.1]]),
            "application/json",
            400,
            "column n: expected an integer (long), got 1.5 at row 0",
        ),
        (
            split([["high", 1, "red", 0.1]]),
            "application/json",
            400,
            'column x: expected a number (double), got "high" at row 0',
        ),
        (split([[0.5, 1, 3, 0.1]]), "application/json", 400, "column color: expected a string, got 3 at row 0"),
        (split([]), "application/json", 400, "no rows to predict"),
        ("x,extra\n1,2\n", "text/csv", 400, "missing columns: n, color;"),
        (split(), "text/plain", 415, "unsupported content type 'text/plain'"),
        ("x" * 30000, "application/json", 413, "request body over the limit of 20000 bytes"),
        # Client faults that used to answer 500 (counted against the error-rate SLO) or wrap silently.
        ('{"inputs": ' + "[" * 5000 + "]" * 5000 + "}", "application/json", 400, "nested too deeply"),
        ('{"inputs": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}", "application/json", 400, "nested too deeply"),
        (split([[0.5, 10**30, "red", 0.1]]), "application/json", 400, "column n: 1" + "0" * 30 + " at row 0 is out"),
        (split([[0.5, 1, "red", 0.1], [0.5, -(10**30), "red", 0.1]]), "application/json", 400, "at row 1 is out"),
        (split([[0.5, 2**63, "red", 0.1]]), "application/json", 400, "is out of range for long"),
        (split([[0.5, 1e30, "red", 0.1]]), "application/json", 400, "column n: 1e+30 at row 0 is out of range"),
        (split([[0.5, 1, "red", 0.1]]).replace("1,", "Infinity,", 1), "application/json", 400, "out of range"),
        (split([[10**400, 1, "red", 0.1]]), "application/json", 400, "out of range for double"),
        ('{"inputs": [' + "1" * 5000 + "]}", "application/json", 400, "malformed JSON: Exceeds the limit"),
        ("x,n,color\n0.5," + "1" + "0" * 30 + ",red\n", "text/csv", 400, "column n: 1" + "0" * 30 + " at row 0"),
        (
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROWS[0]], "index": [0, 1, 2]}}),
            "application/json",
            400,
            "dataframe_split: index has 3 labels but data has 1 rows",
        ),
        (
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROWS[0]], "index": [[0, 1]]}}),
            "application/json",
            400,
            "dataframe_split.index: expected a list of row labels",
        ),
        (split([[0.5, 0.5, 1, "red"]], ["x", "x", "n", "color"]), "application/json", 400, "given more than once: x"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_the_server_stays_up(
    server: Server, model_store: Store, body: str, content_type: str, status: int, message: str
) -> None:
    got_status, got = post(server, body, content_type)
    assert got_status == status
    assert message in got["message"]
    assert post(server, split()) == (200, {"predictions": model_store.expected})


def test_wrong_method_and_unknown_path(server: Server) -> None:
    assert get(server, "/invocations")[0] == 405
    status, body = get(server, "/predict")
    assert status == 404 and "no route /predict" in body


def test_error_series_exist_before_the_first_error(server: Server) -> None:
    # rate() cannot see the increment that creates a series: the first burst needs a 0 before it.
    names = {line.rsplit(" ", 1)[0] for line in get(server, "/metrics")[1].splitlines()}
    for status in ("500", "503"):
        assert f'mlci_http_requests_total{{path="/invocations",status="{status}"}}' in names
    assert 'mlci_http_request_duration_seconds_count{path="/invocations"}' in names


def test_metrics_count_requests_rows_predictions_and_name_the_model(server: Server, model_store: Store) -> None:
    before_ok = metric(server, 'mlci_http_requests_total{path="/invocations",status="200"}')
    before_bad = metric(server, 'mlci_http_requests_total{path="/invocations",status="400"}')
    before_rows = metric(server, "mlci_request_rows_sum")
    before_ones = metric(server, 'mlci_predictions_total{label="1"}')
    for _ in range(3):
        post(server, split())
    post(server, "{oops")
    assert metric(server, 'mlci_http_requests_total{path="/invocations",status="200"}') == before_ok + 3
    assert metric(server, 'mlci_http_requests_total{path="/invocations",status="400"}') == before_bad + 1
    assert metric(server, "mlci_request_rows_sum") == before_rows + 3 * len(ROWS)
    assert metric(server, 'mlci_predictions_total{label="1"}') == before_ones + 3 * sum(model_store.expected)
    info = f'model_info{{name="demo",run_id="{model_store.run_id}",version="1"}}'
    assert metric(server, info) == 1.0
    assert metric(server, "mlci_ready") == 1.0
    assert metric(server, "mlci_predict_duration_seconds_count") >= 1
    assert metric(server, 'mlci_http_request_duration_seconds_count{path="/invocations"}') >= before_ok + 4


def test_capture_writes_request_rows_as_json_lines(server: Server, tmp_path_factory: pytest.TempPathFactory) -> None:
    marker = 123.25
    assert post(server, split([[marker, 2, "blue", None]]))[0] == 200
    folder = server.log.parent / "capture"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = [json.loads(line) for f in folder.glob("inputs-*.jsonl") for line in f.read_text().splitlines()]
        if any(r["x"] == marker for r in rows):
            break
        time.sleep(0.1)
    assert {"x": marker, "n": 2, "color": "blue", "extra": None} in rows


def test_concurrent_requests_are_batched_but_each_gets_its_own_predictions(server: Server, model_store: Store) -> None:
    def one(i: int) -> tuple[int, dict]:
        row = ROWS[i % len(ROWS)]
        return post(server, split([row] * (1 + i % 3)))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(200)))
    for i, (status, body) in enumerate(results):
        assert status == 200
        assert body["predictions"] == [model_store.expected[i % len(ROWS)]] * (1 + i % 3)
    assert metric(server, "mlci_predict_batch_requests_sum") > metric(server, "mlci_predict_batch_requests_count")


def test_a_model_that_cannot_load_exits_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    proc = subprocess.run(
        [str(MLCI), "serve", "--model-dir", str(tmp_path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no python_function flavor" in proc.stderr


def test_slow_predictions_time_out_with_503(model_store: Store, tmp_path: Path) -> None:
    srv = start(model_store.slow_dir, tmp_path, "--timeout", "0.5")
    try:
        status, body = post(srv, json.dumps({"dataframe_records": [{"delay": 1.5, "value": 1.0}]}))
        assert status == 503
        assert body["message"] == "the prediction took longer than 0.5 s (--timeout)"
        time.sleep(1.2)  # the timed-out predict still holds the model until it ends
        assert post(srv, json.dumps({"dataframe_records": [{"delay": 0.0, "value": 2.0}]})) == (
            200,
            {"predictions": [2.0]},
        )
    finally:
        stop(srv)


def test_sigterm_drains_in_flight_requests_complete_and_no_request_fails(model_store: Store, tmp_path: Path) -> None:
    srv = start(model_store.slow_dir, tmp_path, "--drain-seconds", "1.0")
    slow = json.dumps({"dataframe_records": [{"delay": 1.2, "value": 7.0}]})
    fast = json.dumps({"dataframe_records": [{"delay": 0.0, "value": 1.0}]}).encode()
    stop_load = threading.Event()
    with ThreadPoolExecutor(3) as pool:
        in_flight = [pool.submit(post, srv, slow) for _ in range(2)]
        load = pool.submit(loadgen.run, "127.0.0.1", srv.port, fast, 4, 30.0, stop_load)
        time.sleep(0.5)
        srv.proc.send_signal(signal.SIGTERM)
        # A load balancer polls readiness and moves traffic away within the drain window.
        deadline = time.monotonic() + 0.8
        while get(srv, "/readyz")[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get(srv, "/readyz")[0] == 503
        stop_load.set()
        result = load.result()
        assert [f.result() for f in in_flight] == [(200, {"predictions": [7.0]})] * 2
    assert srv.proc.wait(timeout=30) == 0
    assert result.failed == 0, (result.statuses, result.errors)
    assert result.statuses[200] >= 4  # every client got answers; the slow model shares its predict thread
    assert "draining for 1 s" in srv.log.read_text()


def test_serve_help_path_imports_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom mlci import cli\ncli.parser()\nprint(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "uvicorn" not in out and "pandas" not in out
