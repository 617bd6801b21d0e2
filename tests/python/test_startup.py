"""Startup is a feature: the CLI runs on every pipeline step."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from conftest import MLCI

HEAVY = {"mlflow", "great_expectations", "pandas", "scipy", "sklearn", "docker", "kubernetes", "ansible", "numpy"}


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_import_mlci_imports_nothing_heavy() -> None:
    assert not HEAVY & modules_after("import mlci")


def test_help_path_imports_nothing_heavy_and_no_pydantic() -> None:
    loaded = modules_after("from mlci import cli\ncli.parser().format_help()")
    assert not (HEAVY | {"pydantic", "yaml"}) & loaded


def test_help_is_fast() -> None:
    # CPU seconds, not wall time: on a busy agent the wall clock measures the neighbours.
    best = min(_cpu_seconds([str(MLCI), "--help"]) for _ in range(5))
    assert best <= 0.3, f"mlci --help took {best:.3f} s of CPU"


def _cpu_seconds(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
