"""`mlci smoke` and the deploy gate's probe (the mlci_server role's mlci_probe module) judge a
prediction against its expected value by one rule and one tolerance."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci.deploy import smoke

ROLE = Path(__file__).resolve().parents[3] / "ansible" / "roles" / "mlci_server"


def probe_module() -> Any:
    spec = importlib.util.spec_from_file_location("mlci_probe", ROLE / "library" / "mlci_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("got", "want", "same"),
    [
        (1, 1, True),
        (1.0, 1, True),
        (1.0000001, 1, True),  # an int label read back as a float of the same value
        (1.00001, 1, False),
        (0.1 + 0.2, 0.3, True),
        (1e6 + 0.5, 1e6, True),  # relative: large regression values
        (1e6 + 5.0, 1e6, False),
        (1e-7, 0.0, True),  # absolute: near zero
        (1e-5, 0.0, False),
        (True, 1, False),  # a bool is not a number here
        ("yes", "yes", True),
        ("1", 1, False),
        ([0.1, 0.9], [0.1, 0.9], True),
    ],
)
def test_smoke_and_probe_agree(got: Any, want: Any, same: bool) -> None:
    probe = probe_module()
    assert smoke._same(got, want) is same
    assert probe.same(got, want, smoke.TOLERANCE) is same


def test_the_roles_default_tolerance_is_the_smoke_tests() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    spec = specs["argument_specs"]["main"]["options"]["mlci_server_smoke_tolerance"]
    assert float(defaults["mlci_server_smoke_tolerance"]) == float(spec["default"]) == smoke.TOLERANCE
