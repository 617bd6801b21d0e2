"""Images: `mlci build` against `mlflow models build-docker` on the example's churn model.

    python bench/image.py

Both build on the same local base image (`mlci base-image`; no public registry is reachable
here) with the docker SDK's classic builder and no layer cache: size and cold build time.
Then a new model version with unchanged requirements is built with the cache: rebuild time.
MLflow's generated Dockerfile (`mlflow models generate-dockerfile`, what build-docker builds)
needs changes to build here at all; they are applied and listed in the results.
Writes docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdoc import write_section

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BEGIN, END = "<!-- image:begin -->", "<!-- image:end -->"
BASE = "mlci/python:3.11-bookworm"
sys.path.insert(0, str(REPO / "python" / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from serving import train_model  # noqa: E402

from mlci.image import base, context, engine  # noqa: E402
from mlci.image.source import ModelSource  # noqa: E402

# What MLflow's Dockerfile needed to build here, each with why.
MLFLOW_CHANGES = [
    ("FROM python:3.11.7-slim", f"FROM {BASE}", "no public registry is reachable: the same local base as ours"),
    (
        "WORKDIR /opt/mlflow",
        "WORKDIR /opt/mlflow\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
        "COPY ca-certificates.crt /etc/ssl/certs/host-ca.crt\nENV PIP_CERT=/etc/ssl/certs/host-ca.crt",
        "Debian's Python has no system pip (PEP 668): a venv; outbound HTTPS is TLS-intercepted: the host's CA bundle",
    ),
    ('ENTRYPOINT ["python"', 'ENTRYPOINT ["/opt/venv/bin/python"', "the venv's Python"),
]


def build(dc: object, ctx: Path, tag: str, nocache: bool) -> tuple[float, int]:
    started = time.perf_counter()
    for chunk in dc.api.build(path=str(ctx), tag=tag, rm=True, forcerm=True, decode=True, nocache=nocache):  # type: ignore[attr-defined]
        if "error" in chunk:
            raise RuntimeError(f"{tag}: {chunk['error']}")
    seconds = time.perf_counter() - started
    return seconds, int(dc.images.get(tag).attrs["Size"])  # type: ignore[attr-defined]


def ours(model_dir: Path, work: Path, version: str) -> Path:
    ctx = work / f"ctx-{version}"
    ctx.mkdir()
    source = ModelSource("bench", "churn", version, "0" * 32, "bench", "bench", model_dir)
    context.assemble(ctx, source, BASE)
    return ctx


def theirs(model_dir: Path, work: Path) -> Path:
    out = work / "mlflow-ctx"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            str(BIN / "mlflow"),
            "models",
            "generate-dockerfile",
            "-m",
            str(model_dir),
            "-d",
            str(out),
            "--env-manager",
            "local",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    dockerfile = out / "Dockerfile"
    text = dockerfile.read_text()
    for old, new, _ in MLFLOW_CHANGES:
        if old not in text:
            raise RuntimeError(f"MLflow's Dockerfile changed: {old!r} not found")
        text = text.replace(old, new, 1)
    dockerfile.write_text(text)
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", out / "ca-certificates.crt")
    return out


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-image-"))
    os.environ["MLCI_CACHE_DIR"] = str(work / "cache")  # cold: wheels fetched in the timed run
    load = os.getloadavg()[0]
    base.ensure(BASE, REPO / ".cache" / "base-image")
    dc = engine.client()
    model_v1 = train_model(work / "v1")
    started = time.perf_counter()
    ctx1 = ours(model_v1, work, "1")
    fetch = time.perf_counter() - started
    our_cold, our_size = build(dc, ctx1, "bench/mlci-churn:1", nocache=True)
    # A new model version: retrained (another seed), same requirements.
    model_v2 = train_model(work / "v2", seed=1)
    started = time.perf_counter()
    ctx2 = ours(model_v2, work, "2")
    rebuild_ctx = time.perf_counter() - started
    rebuild, _ = build(dc, ctx2, "bench/mlci-churn:2", nocache=False)
    mlflow_ctx = theirs(model_v1, work)
    their_cold, their_size = build(dc, mlflow_ctx, "bench/mlflow-churn:1", nocache=True)
    total_cold = fetch + our_cold
    load_after = os.getloadavg()[0]
    rows = [
        f"| image size | {our_size / 1e6:.0f} MB | {their_size / 1e6:.0f} MB | {our_size / their_size:.0%} |",
        f"| cold build (no layer cache) | {our_cold:.1f} s (+ {fetch:.1f} s fetching wheels on the host) "
        f"| {their_cold:.1f} s | {total_cold / their_cold:.0%} |",
        f"| rebuild after a new model version | {rebuild_ctx + rebuild:.1f} s (context {rebuild_ctx:.1f} s + build "
        f"{rebuild:.1f} s) | full rebuild (model copied before dependencies) | |",
    ]
    checks = [
        f"size ≤ 450 MB: {'met' if our_size <= 450e6 else 'MISSED'}",
        f"size ≤ 50% of MLflow's: {'met' if our_size <= 0.5 * their_size else 'MISSED'}",
        f"cold image build ≤ 60 s: {'met' if our_cold <= 60 else 'MISSED'} ({our_cold:.1f} s), "
        f"with an empty host wheel cache: {'met' if total_cold <= 60 else 'MISSED'} ({total_cold:.1f} s)",
        f"rebuild ≤ 3 s: {'met' if rebuild_ctx + rebuild <= 3 else 'MISSED'}",
    ]
    changes = [f"- `{old.splitlines()[0]}` → `{new.splitlines()[0]}`…: {why}" for old, new, why in MLFLOW_CHANGES]
    section = "\n".join(
        [
            BEGIN,
            "## Images",
            "",
            f"`python bench/image.py` on the churn example's model, both on `{BASE}` (built by "
            f"`mlci base-image`), docker SDK classic builder, dockerd {dc.version()['Version']}, "
            f"{platform.machine()}, {os.cpu_count()} cores shared with other work "
            f"(load average {load:.1f} before, {load_after:.1f} after), "
            f"{time.strftime('%Y-%m-%d')}.",
            "",
            "| | mlci build | mlflow models build-docker | mlci / mlflow |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            f"Targets: {'; '.join(checks)}.",
            "",
            "What MLflow's generated Dockerfile needed to build here (it installs `mlflow` and the model's "
            "requirements from PyPI inside the build, and nginx with apt):",
            "",
            *changes,
            END,
        ]
    )
    write_section(BEGIN, END, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
