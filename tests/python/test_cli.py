from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import mlci
from conftest import REPO

Mlci = Callable[..., subprocess.CompletedProcess[str]]


def test_version(mlci: Mlci) -> None:
    assert mlci("--version").stdout == f"mlci {mlci.__version__ if False else __import__('mlci').__version__}\n"


def test_library_version_matches_the_package() -> None:
    version_txt = (REPO / "resources" / "io" / "mlci" / "version.txt").read_text().strip()
    pyproject = (REPO / "python" / "pyproject.toml").read_text()
    assert version_txt == mlci.__version__
    assert f'version = "{mlci.__version__}"' in pyproject


def test_no_command_prints_usage_and_exits_2(mlci: Mlci) -> None:
    proc = mlci()
    assert proc.returncode == 2 and "usage: mlci" in proc.stderr


def test_help_lists_every_step(mlci: Mlci) -> None:
    out = mlci("--help").stdout
    for command in ("run", "config", "test", "plan"):
        assert f"    {command}" in out


def test_plan_prints_json(mlci: Mlci) -> None:
    proc = mlci("plan")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == [{"name": "test", "step": "mlTest", "kind": "run", "params": {}}]


def test_config_schema_is_json_schema(mlci: Mlci) -> None:
    schema = json.loads(mlci("config", "schema").stdout)
    assert schema["$schema"].endswith("2020-12/schema") and "model" in schema["properties"]


def test_config_show_redacts(mlci: Mlci, project: Path) -> None:
    (project / ".mlci.yml").write_text(
        "model: {name: demo, task: classification}\nmlflow: {tracking_uri: 'http://ci:pw-9876@localhost:5000'}\n"
    )
    proc = mlci("config", "show")
    assert proc.returncode == 0
    assert "pw-9876" not in proc.stdout and "http://ci:****@localhost:5000" in proc.stdout
    assert json.loads(mlci("config", "show", "--json").stdout)["test"]["paths"] == ["tests"]


MALFORMED = {
    "bad YAML": ("model:\n  name: demo\n   task: x\n", ".mlci.yml:3: invalid YAML"),
    "unknown key": (
        "model:\n  name: demo\n  task: regression\ntset: {}\n",
        ".mlci.yml:4 tset: unknown key; did you mean 'test'?",
    ),
    "wrong type": (
        "model:\n  name: demo\n  task: regression\ntest:\n  enabled: maybe\n",
        ".mlci.yml:5 test.enabled: expected true or false, got 'maybe'",
    ),
    "missing required key": ("model:\n  task: regression\n", ".mlci.yml:1 model.name: required key missing"),
}


@pytest.mark.parametrize("case", MALFORMED)
@pytest.mark.parametrize("command", [["config", "show"], ["plan"], ["test"], ["run"]])
def test_malformed_config_exits_2_naming_file_line_key(
    mlci: Mlci, project: Path, case: str, command: list[str]
) -> None:
    text, message = MALFORMED[case]
    (project / ".mlci.yml").write_text(text)
    proc = mlci(*command)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_params_and_config_flags_exclude_each_other(mlci: Mlci) -> None:
    proc = mlci("test", "--params", "p.json", "--config", "c.yml")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
