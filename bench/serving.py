"""Serving: `mlci serve` against `mlflow models serve` on the example's churn model, same run.

    python bench/serving.py [--seconds 10]

Both servers run on this machine's cores (the load generator shares them), one after the
other, on the same MLflow model: time to ready (start until /health answers 200), req/s, p50
and p99 at 8 concurrent clients with 1-row and 100-row requests, and RSS after the load.
Also the in-process predict time, to show what the HTTP layer adds. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchdoc import write_section

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE = REPO / "examples" / "churn"
BEGIN, END = "<!-- serving:begin -->", "<!-- serving:end -->"
sys.path.insert(0, str(REPO / "python" / "src"))

from mlci.serving import loadgen  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_model(work: Path, seed: int = 0) -> Path:
    """The example's model, logged by its own train.py into a fresh sqlite store under `work`."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    code = (
        "import mlflow, os, subprocess, sys\n"
        "exp = mlflow.create_experiment('bench', artifact_location=sys.argv[3])\n"
        "run = mlflow.start_run(experiment_id=exp); mlflow.end_run()\n"
        "subprocess.run([sys.executable, 'train.py', '--data', 'data/train.csv', '--model-out', sys.argv[1],"
        " '--random-state', sys.argv[4]], check=True, stdout=subprocess.DEVNULL,"
        " env={**os.environ, 'MLFLOW_RUN_ID': run.info.run_id})\n"
        "print(mlflow.artifacts.download_artifacts(f'runs:/{run.info.run_id}/model', dst_path=sys.argv[2]))\n"
    )
    if not (EXAMPLE / "data" / "train.csv").exists():
        subprocess.run(
            [sys.executable, "make_data.py", "--rows", "5000", "--seed", "42", "--out", "data/"],
            cwd=EXAMPLE,
            check=True,
        )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(work / "joblib"),
            str(work / "model"),
            (work / "artifacts").as_uri(),
            str(seed),
        ],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def rss_mb(pid: int) -> float:
    """RSS of the process and its children (mlflow serve runs uvicorn as a child)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def wait_ready(port: int, proc: subprocess.Popen[bytes], started: float) -> float:
    while time.perf_counter() - started < 120:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("not ready in 120 s")


def body(example: dict[str, list], rows: int) -> bytes:
    data = [example["data"][i % len(example["data"])] for i in range(rows)]
    return json.dumps({"dataframe_split": {"columns": example["columns"], "data": data}}).encode()


def measure(name: str, argv: list[str], env: dict[str, str], port: int, example: dict, seconds: float) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ready = wait_ready(port, proc, started)
        out: dict = {"name": name, "ready": ready}
        for rows in (1, 100):
            payload = body(example, rows)
            loadgen.run("127.0.0.1", port, payload, 8, 1.0)  # warm connections and caches
            res = loadgen.run("127.0.0.1", port, payload, 8, seconds)
            out[rows] = {
                "rate": res.rate,
                "p50": res.percentile(50) * 1000,
                "p99": res.percentile(99) * 1000,
                "failed": res.failed,
            }
            print(name, rows, out[rows], flush=True)
        out["rss"] = rss_mb(proc.pid)
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def in_process(model_dir: Path, example: dict) -> dict[int, float]:
    from mlci.serving import model as served_model
    from mlci.serving.payload import conform, parse

    served = served_model.load(model_dir)
    out = {}
    for rows in (1, 100):
        frame = conform(parse(body(example, rows), "application/json", served.columns).frame, served.columns)
        served.predict(frame)
        n, started = 200, time.perf_counter()
        for _ in range(n):
            served.predict(frame)
        out[rows] = (time.perf_counter() - started) / n * 1000
    return out


def image_ready(reference: str, runs: int = 3) -> float:
    """Median seconds from `docker run` (read-only, no capabilities) to /readyz answering 200."""
    import statistics

    import docker

    dc = docker.from_env()
    times = []
    for _ in range(runs):
        port = free_port()
        started = time.perf_counter()
        c = dc.containers.run(
            reference,
            detach=True,
            read_only=True,
            tmpfs={"/tmp": ""},  # noqa: S108 - a tmpfs mount in the container
            cap_drop=["ALL"],
            ports={"8080/tcp": ("127.0.0.1", port)},
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.02)
            times.append(time.perf_counter() - started)
        finally:
            c.remove(force=True)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--image", metavar="REF", help="also time `docker run` to ready for this mlci image")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-serving-"))
    model_dir = train_model(work)
    example = json.loads((model_dir / "input_example.json").read_text())
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "1"}
    load = os.getloadavg()[0]
    port = free_port()
    ours = measure(
        "mlci serve",
        [str(BIN / "mlci"), "serve", "--model-dir", str(model_dir), "--port", str(port)],
        env,
        port,
        example,
        args.seconds,
    )
    port = free_port()
    theirs = measure(
        "mlflow models serve",
        [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local", "-p", str(port)],
        env,
        port,
        example,
        args.seconds,
    )
    local = in_process(model_dir, example)
    in_image = image_ready(args.image) if args.image else None
    load_after = os.getloadavg()[0]
    rows = []
    checks = []
    for label, key in (("ready after start", "ready"), ("RSS after load", "rss")):
        unit = "s" if key == "ready" else "MB"
        rows.append(f"| {label} | {ours[key]:.2f} {unit} | {theirs[key]:.2f} {unit} | {theirs[key] / ours[key]:.1f}x |")
    for n in (1, 100):
        o, t = ours[n], theirs[n]
        rows.append(f"| req/s, {n}-row requests | {o['rate']:.0f} | {t['rate']:.0f} | {o['rate'] / t['rate']:.1f}x |")
        rows.append(f"| p50, {n}-row | {o['p50']:.1f} ms | {t['p50']:.1f} ms | {t['p50'] / o['p50']:.1f}x |")
        rows.append(f"| p99, {n}-row | {o['p99']:.1f} ms | {t['p99']:.1f} ms | {t['p99'] / o['p99']:.1f}x |")
        rows.append(f"| failed requests, {n}-row | {o['failed']} | {t['failed']} | |")
        checks.append(f"throughput {n}-row ≥ 2x: {'met' if o['rate'] >= 2 * t['rate'] else 'MISSED'}")
        checks.append(f"p99 {n}-row ≤ 0.5x: {'met' if o['p99'] <= 0.5 * t['p99'] else 'MISSED'}")
    checks.insert(0, f"ready ≤ 2.5 s: {'met' if ours['ready'] <= 2.5 else 'MISSED'} ({ours['ready']:.2f} s)")
    if in_image is not None:
        rows.insert(1, f"| ready after `docker run` (the image, read-only) | {in_image:.2f} s | | |")
        checks.insert(1, f"in the image: {'met' if in_image <= 2.5 else 'MISSED'} ({in_image:.2f} s)")
    overhead = "; ".join(
        f"{n}-row: in-process predict {local[n]:.1f} ms, served p50 {ours[n]['p50']:.1f} ms at 8 clients"
        for n in (1, 100)
    )
    section = "\n".join(
        [
            BEGIN,
            "## Serving",
            "",
            f"`python bench/serving.py --seconds {args.seconds:g}"
            f"{' --image <the churn image built by mlci build>' if args.image else ''}` on the churn example's model "
            f"(GradientBoosting pipeline, logged by `train.py`), 8 concurrent keep-alive clients "
            f"(`mlci.serving.loadgen`, on the same {os.cpu_count()} cores as the servers), "
            f"{platform.python_implementation()} {platform.python_version()}, load average before the run "
            f"{load:.1f}, after {load_after:.1f} (the cores are shared with other work: numbers move with it), "
            f"{time.strftime('%Y-%m-%d')}. `mlflow models serve --env-manager local` needed the "
            "venv's `bin/` on PATH (it runs `uvicorn` by name) and `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=1`.",
            "",
            "| | mlci serve | mlflow models serve | ratio (mlflow / mlci; req/s: mlci / mlflow) |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            f"Targets: {'; '.join(checks)}.",
            "",
            f"Our overhead over an in-process predict: {overhead}. Concurrent requests share predict calls "
            "(opportunistic batching), so served latency under load is queueing plus one batched predict.",
            END,
        ]
    )
    write_section(BEGIN, END, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
