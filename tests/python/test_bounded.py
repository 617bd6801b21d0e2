"""Hostile file shapes: YAML alias bombs, YAML and JSON nested thousands of levels deep, and
oversized files are refused with the file and line (exit 2) at once, through the CLI."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MINIMAL, write
from mlci import bounded, config
from mlci.drift import reference
from mlci.errors import InputError
from mlci.steps import data_validate

Mlci = Callable[..., subprocess.CompletedProcess[str]]

LAUGHS = (
    MINIMAL
    + "lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
)
DEEP_YAML = MINIMAL + "vars: " + "{k: " * 5000 + "1" + "}" * 5000 + "\n"
DEEP_BLOCK = MINIMAL + "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
DEEP_JSON = '{"verbose": ' + "[" * 5000 + "]" * 5000 + "}"

CASES = {
    "billion laughs": (LAUGHS, "expands to more than 100000 values through aliases", 12),
    "5000-level flow YAML": (DEEP_YAML, "nested more than 64 levels deep", 7),
    "200-level block YAML": (DEEP_BLOCK, "nested more than 64 levels deep", 71),
}


@pytest.mark.parametrize("command", [["plan"], ["config", "show"]], ids=["plan", "config show"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_yaml_is_exit_2_with_file_and_line(mlci: Mlci, project: Path, command: list[str], case: str) -> None:
    text, problem, line = CASES[case]
    write(project / ".mlci.yml", text)
    proc = mlci(*command, "--config", ".mlci.yml")
    assert proc.returncode == 2, proc.stderr
    assert f".mlci.yml:{line}: {problem}" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_yaml_is_refused_within_a_second(tmp_path: Path, case: str) -> None:
    path = write(tmp_path / ".mlci.yml", CASES[case][0])
    started = time.process_time()
    with pytest.raises(InputError):
        config.load(path)
    assert time.process_time() - started < 1.0


def test_deep_json_params_file_is_exit_2(mlci: Mlci, project: Path) -> None:
    write(project / "params.json", DEEP_JSON)
    proc = mlci("plan", "--params", "params.json")
    assert proc.returncode == 2, proc.stderr
    assert "params.json:1 JSON nested more than 64 levels deep" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_json_nested_past_the_bound_but_within_the_parser_is_refused_at_its_line(tmp_path: Path) -> None:
    text = '{\n"expectations": ' + "[\n" * 100 + "]" * 100 + "}"
    path = write(tmp_path / "suite.json", text)
    with pytest.raises(InputError, match=r"suite.json:65 JSON in the expectation suite nested more than 64"):
        data_validate.load_suite(path)
    path = write(tmp_path / "ref.json", DEEP_JSON)
    with pytest.raises(InputError, match=r"ref.json:1 JSON in the drift reference nested more than 64"):
        reference.load(path)


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        MINIMAL
        + "deploy:\n"
        + "  - {name: a, type: ansible, environment: staging, slo: &slo {max_p99_ms: 300}}\n"
        + "  - {name: b, type: ansible, environment: production, slo: *slo}\n",
    )
    loaded = config.load(path)
    assert [t.slo.max_p99_ms for t in loaded.config.deploy] == [300, 300]


def test_oversized_and_non_utf8_files_are_named(tmp_path: Path) -> None:
    big = write(tmp_path / "big.yml", MINIMAL + "# " + "x" * bounded.MAX_CONFIG_BYTES + "\n")
    with pytest.raises(InputError, match=r"big.yml: \d+ bytes, more than the 1048576 mlci reads"):
        config.load(big)
    latin = tmp_path / "latin.yml"
    latin.write_bytes(MINIMAL.encode() + "# café\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.yml:7: not UTF-8 text \(byte 0xe9\)"):
        config.load(latin)
    assert json.loads(json.dumps({"ok": 1})) == bounded.json_loads('{"ok": 1}', "x.json")
