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


def test_example_pipeline_runs_locally(tmp_path: Path) -> None:
    project = tmp_path / "churn"
    shutil.copytree(REPO / "examples" / "churn", project, ignore=shutil.ignore_patterns("data", "model", "reports"))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JENKINS_URL", None)
    subprocess.run(
        [sys.executable, "make_data.py", "--rows", "2000", "--seed", "7", "--out", "data/"],
        cwd=project,
        check=True,
        env=env,
    )
    proc = subprocess.run([str(BIN / "mlci"), "run"], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2].split()[:2] == ["test", "passed"]
    result = json.loads((project / "reports" / "run" / "test.result.json").read_text())
    assert result["outputs"]["tests"] >= 10 and result["outputs"]["failures"] == 0
