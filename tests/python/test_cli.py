from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import mlci
from conftest import REPO
from mlci import cli, contracts

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


def test_config_flag_overrides_the_params_files_config_file(mlci: Mlci, project: Path) -> None:
    (project / "p.json").write_text(json.dumps({"configFile": "missing.yml"}))
    assert "missing.yml: not found" in mlci("plan", "--params", "p.json").stderr
    assert mlci("plan", "--params", "p.json", "--config", ".mlci.yml").returncode == 0


# ---------------------------------------------------------------- a flag for every contract param

SAMPLES = {"string": ("abc", "abc"), "integer": ("7", 7), "number": ("0.25", 0.25)}


def _flag_args(param: contracts.Param) -> tuple[list[str], object]:
    """Command-line words that set `param`, and the value the step should get."""
    flag = cli.flag_name(param.name)
    if param.type == "boolean":
        return [f"--no-{flag[2:]}"], False
    if param.type == "list":
        word, value = SAMPLES[param.items or "string"]
        return [flag, word, flag, word], [value, value]
    if param.type == "map":
        return [flag, 'a={"threshold": 0.5}', flag, "b=text"], {"a": {"threshold": 0.5}, "b": "text"}
    word, value = SAMPLES[param.type]
    return [flag, word], value


@pytest.mark.parametrize("step", contracts.step_names())
def test_every_contract_param_has_a_flag(step: str) -> None:
    contract = contracts.load(step)
    argv = [contract.command] if contract.command != "data-validate" else ["data", "validate"]
    expected: dict[str, object] = {}
    for param in contract.params.values():
        if param.scope == "groovy":
            continue
        words, value = _flag_args(param)
        argv += words
        expected[param.name] = value
    assert cli.step_flags(cli.parser().parse_args(argv)) == expected


def test_flags_are_kebab_case_and_avoid_the_commands_own() -> None:
    assert [cli.flag_name(n) for n in ("target", "runId", "maxP99Ms", "configFile", "params")] == [
        "--target",
        "--run-id",
        "--max-p99-ms",
        "--config",
        "--param",
    ]


def test_rollback_takes_its_target_as_a_flag(mlci: Mlci, project: Path) -> None:
    proc = mlci("rollback", "--target", "production")
    assert "unrecognized arguments" not in proc.stderr
    assert proc.returncode == 2 and "deploy: no targets in .mlci.yml" in proc.stderr


def test_promote_version_flag_is_checked_by_the_contract(mlci: Mlci) -> None:
    proc = mlci("promote", "--version", "abc")
    assert proc.returncode == 2 and "version: expected a model version number such as 3, got 'abc'" in proc.stderr


def test_flags_override_the_params_file_which_still_works(mlci: Mlci, project: Path) -> None:
    (project / "params.json").write_text(json.dumps({"stages": ["nope"]}))
    alone = mlci("plan", "--params", "params.json")
    assert alone.returncode == 2 and "stages: no stage named 'nope'" in alone.stderr
    proc = mlci("plan", "--params", "params.json", "--stages", "test", "--result", "r.json")
    assert proc.returncode == 0, proc.stderr
    assert [s["name"] for s in json.loads(proc.stdout)] == ["test"]
    assert json.loads((project / "r.json").read_text())["status"] == "passed"


def test_a_map_flag_without_a_key_is_a_usage_error(mlci: Mlci) -> None:
    proc = mlci("validate", "--thresholds", "accuracy")
    assert proc.returncode == 2 and "expected KEY=VALUE, got 'accuracy'" in proc.stderr
