"""`mlci deploy` refusing bad input before any backend runs: no target, an ambiguous target, no
image to deploy. The inventories named here do not exist; reaching a backend would fail
differently, so each exit 2 proves nothing was started."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import MINIMAL, write
from mlci import protocol

DIGEST = "127.0.0.1:5000/churn@sha256:" + "a" * 64
TWO_TARGETS = """\
deploy:
  - {name: stage, type: ansible, environment: staging, inventory: s.yml}
  - {name: prod, type: ansible, environment: production, inventory: p.yml}
"""


def test_a_config_without_targets_is_exit_2(project: Path) -> None:
    code, result = protocol.execute("deploy", {"image": DIGEST})
    assert code == 2 and result["summary"] == "deploy: no targets in .mlci.yml (see docs/config.md#deploy)"


def test_several_targets_need_the_target_param(project: Path) -> None:
    write(project / ".mlci.yml", MINIMAL + TWO_TARGETS)
    code, result = protocol.execute("deploy", {"image": DIGEST})
    assert code == 2 and result["summary"] == "target: required when .mlci.yml has several (stage, prod)"


def test_without_an_image_the_build_report_is_needed(project: Path) -> None:
    write(project / ".mlci.yml", MINIMAL + TWO_TARGETS)
    code, result = protocol.execute("deploy", {"target": "stage"})
    assert code == 2 and result["summary"].startswith("image: not given and no reports/build/image.json")
    write(project / "reports" / "build" / "image.json", json.dumps({"reference": None}))
    code, result = protocol.execute("deploy", {"target": "stage"})
    assert code == 2 and "has no pushed reference (built with push: false?)" in result["summary"]
    write(project / "reports" / "build" / "image.json", json.dumps({"reference": "127.0.0.1:5000/churn:1"}))
    code, result = protocol.execute("deploy", {"target": "stage"})
    assert code == 2 and "'127.0.0.1:5000/churn:1' is not pinned by digest" in result["summary"]
