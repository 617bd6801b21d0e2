"""A step's files stay inside its workspace: a configFile that points out of it is refused
before anything is written."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MINIMAL, write

Mlci = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def outside(project: Path) -> Path:
    folder = project.parent / f"{project.name}-outside"
    write(folder / ".mlci.yml", MINIMAL)
    return folder


def test_a_relative_config_outside_the_workspace_is_refused(mlci: Mlci, project: Path, outside: Path) -> None:
    proc = mlci("test", "--config", f"../{outside.name}/.mlci.yml")
    assert proc.returncode == 2, proc.stderr
    assert f"configFile: ../{outside.name}/.mlci.yml is outside the workspace {project}" in proc.stderr
    assert sorted(p.name for p in outside.iterdir()) == [".mlci.yml"]  # no reports/ written there


def test_under_jenkins_an_absolute_config_outside_the_workspace_is_refused(
    mlci: Mlci, project: Path, outside: Path
) -> None:
    jenkins = {"WORKSPACE": str(project), "MLCI_RESULT": str(project / "result.json")}
    proc = mlci("test", "--config", str(outside / ".mlci.yml"), "--result", "result.json", env=jenkins)
    assert proc.returncode == 2, proc.stderr
    assert "is outside the workspace" in proc.stderr
    assert sorted(p.name for p in outside.iterdir()) == [".mlci.yml"]


def test_a_config_in_a_subfolder_of_the_workspace_runs(mlci: Mlci, project: Path) -> None:
    write(project / "sub" / ".mlci.yml", MINIMAL)
    write(project / "sub" / "tests" / "test_ok.py", "def test_ok():\n    pass\n")
    jenkins = {"WORKSPACE": str(project), "MLCI_RESULT": str(project / "result.json")}
    proc = mlci("test", "--config", "sub/.mlci.yml", "--result", "result.json", env=jenkins)
    assert proc.returncode == 0, proc.stderr
    assert (project / "sub" / "reports" / "test").is_dir()


def test_outside_jenkins_an_absolute_config_is_the_callers_choice(mlci: Mlci, project: Path, outside: Path) -> None:
    write(outside / "tests" / "test_ok.py", "def test_ok():\n    pass\n")
    proc = mlci("test", "--config", str(outside / ".mlci.yml"), env={"WORKSPACE": str(project)})
    assert proc.returncode == 0, proc.stderr
    assert (outside / "reports" / "test").is_dir()


def test_mlci_run_refuses_a_config_outside_the_workspace(mlci: Mlci, project: Path, outside: Path) -> None:
    proc = mlci("run", "--config", f"../{outside.name}/.mlci.yml")
    assert proc.returncode == 2, proc.stderr
    assert "--config: ../" in proc.stderr and "is outside the workspace" in proc.stderr
    assert sorted(p.name for p in outside.iterdir()) == [".mlci.yml"]
