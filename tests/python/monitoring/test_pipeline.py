"""Every step pushes `mlci_step_duration_seconds{step,model,status}` to a configured
Pushgateway; a gateway that is down is a warning and the step's result stands."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from services.ports import refused_url

from conftest import MINIMAL, write
from mlci import protocol


def test_a_step_pushes_its_duration_and_outcome(project: Path, pushgateway: Any) -> None:
    write(project / ".mlci.yml", MINIMAL + f"monitoring:\n  pushgateway_url: {pushgateway.url}\n")
    code, _ = protocol.execute("plan")
    assert code == 0
    with urllib.request.urlopen(pushgateway.url + "/metrics", timeout=5) as resp:  # noqa: S310 - local service
        text = resp.read().decode()
    # The gateway is shared by the session: other steps' groups may be there too.
    lines = [x for x in text.splitlines() if x.startswith("mlci_step_duration_seconds{") and 'step="plan"' in x]
    assert len(lines) == 1, text
    assert 'job="mlci_pipeline"' in lines[0] and 'model="demo"' in lines[0] and 'status="passed"' in lines[0]


def test_a_gateway_that_is_down_only_warns(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with refused_url() as dead:
        write(project / ".mlci.yml", MINIMAL + f"monitoring:\n  pushgateway_url: {dead}\n")
        code, result = protocol.execute("plan")
    assert (code, result["status"]) == (0, "passed")
    assert f"warning: could not push the step duration to pushgateway {dead}" in capsys.readouterr().err
