"""The framework matrix: model projects as users bring them (tests/frameworks/), each trained by
its own train.py through `mlci train` on seeded data, gated against a champion, built into an
image that must serve what the model predicts; the regressor and LightGBM are deployed and
smoke-tested. Every holdout carries an id and a group column that no model takes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The real services of the unit tests, and the framework projects' kit.
sys.path[:0] = [str(REPO / "tests" / "python"), str(REPO / "tests" / "frameworks")]
from kit import FRAMEWORKS, Trained, aliases, cli, in_process, invoke, step, train_project, wait_ready  # noqa: E402
from services.docker_engine import base_image, docker_engine  # noqa: E402, F401
from services.ports import free_port  # noqa: E402
from services.registry import registry  # noqa: E402, F401


@pytest.fixture(scope="module", params=FRAMEWORKS, ids=lambda fw: fw.name)
def trained(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    registry: str,  # noqa: F811
    base_image: str,  # noqa: F811
) -> Iterator[Trained]:
    yield from train_project(request.param, tmp_path_factory.mktemp("fw") / request.param.name, registry, base_image)


def test_an_equal_challenger_passes_the_gate(trained: Trained) -> None:
    code, result = step(trained.root, "validate", runId=trained.runs["challenger"])
    assert code == 0, result["summary"]
    assert result["status"] == "passed"


def test_a_worse_model_is_rejected_naming_the_metric_and_both_values(trained: Trained) -> None:
    name = trained.name
    before = aliases(name)
    code, result = step(trained.root, "validate", runId=trained.runs["worse"])
    assert (code, result["status"]) == (1, "failed"), result["summary"]
    summary = result["summary"]
    metric = trained.fw.metric
    assert f"metric {metric}" in summary or metric in summary, summary
    # Both values: the candidate's and the champion's ("<metric> <value> vs champion <value>").
    assert " vs champion " in summary, summary
    assert aliases(name) == before == {"champion": "1"}


@dataclass
class Served:
    reference: str
    predictions: Any  # what the container answered for the holdout rows
    expected: Any  # what the model predicts for them in-process


@pytest.fixture(scope="module")
def served(trained: Trained) -> Iterator[Served]:
    """`mlci build` of the champion (a real CLI run), then the pushed image run as a deploy runs it:
    non-root, read-only root, a tmpfs, every capability dropped."""
    import pandas as pd

    started = time.monotonic()
    code, result, log = cli(trained.root, "build", modelUri=trained.model_uri)
    assert code == 0, log[-3000:]
    outputs = result["outputs"]
    reference = outputs["reference"]
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", reference], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{trained.fw.name}: image built in {time.monotonic() - started:.1f} s, {int(size) / 1e6:.0f} MB")
    holdout = pd.read_csv(trained.root / "data" / "holdout.csv").head(50)
    port = free_port()
    container = f"mlci-{trained.name}-{os.getpid()}"
    run = ["docker", "run", "-d", "--name", container, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
    run += ["--security-opt", "no-new-privileges", "-p", f"127.0.0.1:{port}:8080", reference]
    subprocess.run(run, check=True, capture_output=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, container)
        # The holdout as it is, id and group columns included: the server takes the same rows.
        yield Served(reference, invoke(url, holdout), in_process(trained.model_uri, holdout))
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)


def test_the_image_serves_what_the_model_predicts(served: Served) -> None:
    import numpy as np

    # A model answering a DataFrame (ONNX: one column per output) is served as one record per row.
    rows = [list(p.values()) if isinstance(p, dict) else p for p in served.predictions]
    got = np.asarray(rows, dtype=float)
    assert len(got) == 50 and got.size == served.expected.size, (got.shape, served.expected.shape)
    np.testing.assert_allclose(got, served.expected.reshape(got.shape), rtol=1e-5, atol=1e-6)
