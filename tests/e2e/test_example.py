"""`mlci run` on the bundled example, as `make demo` runs it, on a copy of the example."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "python"))
# The build stage needs the real Docker engine, a registry and the local base image.
from services.docker_engine import base_image, docker_engine  # noqa: E402, F401
from services.registry import registry  # noqa: E402, F401


def test_example_pipeline_runs_locally(tmp_path: Path, registry: str, base_image: str) -> None:  # noqa: F811
    project = tmp_path / "churn"
    shutil.copytree(REPO / "examples" / "churn", project, ignore=shutil.ignore_patterns("data", "model", "reports"))
    config = project / ".mlci.yml"  # the build stage pushes to this session's registry
    config.write_text(config.read_text().replace('registry: "127.0.0.1:5000"', f'registry: "{registry}"'))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JENKINS_URL", None)
    subprocess.run(
        [sys.executable, "make_data.py", "--rows", "2000", "--seed", "7", "--out", "data/"],
        cwd=project,
        check=True,
        env=env,
    )
    env["MLFLOW_TRACKING_URI"] = "sqlite:///.mlci/mlflow.db"  # as `make demo` sets it
    proc = subprocess.run([str(BIN / "mlci"), "run", "--yes"], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for stage in ("train", "validate", "register", "build", "promote"):
        assert json.loads((project / "reports" / "run" / f"{stage}.result.json").read_text())["status"] == "passed"
    assert proc.stdout.splitlines()[2].split()[:2] == ["test", "passed"]
    result = json.loads((project / "reports" / "run" / "test.result.json").read_text())
    assert result["outputs"]["tests"] >= 10 and result["outputs"]["failures"] == 0
