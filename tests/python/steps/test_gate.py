"""The model gate on a real sqlite MLflow store: train, validate, register, promote, rollback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import gatekit
import pytest
from gatekit import STRONG, WEAK, aliases, client, make_project, sqlite_store, step
from gatekit import config as gatekit_config
from services.ports import refused_url

from conftest import MLCI
from mlci.drift import reference

BUILD_URL = "https://jenkins.example.invalid/job/churn/7/"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A project, a sqlite store, and two trained runs: strong and weak (trained once)."""
    root = make_project(tmp_path_factory.mktemp("gate") / "churn")
    with sqlite_store(root, BUILD_URL):
        runs = {"root": str(root)}
        for label, features in (("strong", STRONG), ("weak", WEAK)):
            code, result = step("train", "churn", root, params={"features": features})
            assert code == 0, result["summary"]
            runs[label] = result["outputs"]["runId"]
            runs[f"{label}_result"] = json.dumps(result)
        yield runs


def champion(gate: dict[str, str], name: str, run: str) -> None:
    gatekit.champion(Path(gate["root"]), name, run)


def test_train_records_lineage_fingerprint_and_drift_reference(gate: dict[str, str]) -> None:
    result = json.loads(gate["strong_result"])
    run = client().get_run(gate["strong"])
    tags, outputs = run.data.tags, result["outputs"]
    assert outputs["modelUri"] == tags["mlci.model.uri"] and outputs["modelUri"].startswith("models:/m-")
    assert (outputs["gitDirty"], tags["mlci.git.dirty"], tags["mlci.build_url"]) == (False, "false", BUILD_URL)
    assert tags["mlci.git.commit"] == outputs["gitCommit"] and len(outputs["gitCommit"]) == 40
    assert tags["mlci.command"].endswith(f"train.py --data data/train.csv --features {STRONG}")
    assert run.data.params == {"features": STRONG}
    assert run.info.status == "FINISHED"
    local = Path(client().download_artifacts(gate["strong"], "mlci"))
    fp = json.loads((local / "data_fingerprint.json").read_text())
    assert fp["digest"] == outputs["dataFingerprint"] == tags["mlci.data.fingerprint"]
    train_fp = next(f for f in fp["files"] if f["path"] == "data/train.csv")
    assert train_fp["rows"] == 2000 and train_fp["columns"]["churned"] == "int64" and len(train_fp["sha256"]) == 64
    assert [f["path"] for f in fp["files"]] == ["data/train.csv", "data/holdout.csv"]
    ref = reference.load(local / "drift_reference.json")
    assert ref["rows"] == 2000 and "churned" not in ref["columns"] and ref["columns"]["region"]["kind"] == "categorical"
    recorded = json.loads((Path(gate["root"]) / "reports" / "train" / "candidate.json").read_text())
    assert recorded["runId"] == gate["weak"]  # the last train in the workspace


def test_train_without_a_logged_model_fails_clearly(gate: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKIP_MODEL", "1")
    code, result = step("train", "churn", Path(gate["root"]))
    assert code == 2
    assert result["summary"].startswith("training.command finished but logged no model to MLflow run ")
    run_id = result["summary"].split("MLflow run ")[1].split(":")[0]
    assert client().get_run(run_id).info.status == "FAILED"


def test_first_model_passes_on_absolute_thresholds(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    code, result = step("validate", "first", root, runId=gate["weak"])
    assert code == 0, result["summary"]
    assert result["summary"] == "4 checks passed (no champion yet, absolute thresholds only)"
    assert result["outputs"]["championVersion"] is None
    summary = (root / "reports" / "validate" / "summary.md").read_text()
    assert "No champion yet: this is the first model, so only absolute thresholds apply." in summary
    cases = ET.parse(root / "reports" / "validate" / "junit.xml").getroot().iter("testcase")  # noqa: S314
    assert [c.get("name") for c in cases] == ["metric accuracy_score", "metric f1_score", "model size", "latency p95"]
    html = (root / "reports" / "validate" / "validation.html").read_text()
    assert "<svg" in html and "Confusion matrix" in html and "<script" not in html and "<style" not in html
    # Nothing from elsewhere: the one link is the stylesheet beside the page (Jenkins' CSP).
    assert re.findall(r"<link[^>]*>", html) == ['<link rel="stylesheet" href="mlci-report.css">']
    tags = client().get_run(gate["weak"]).data.tags
    assert tags["mlci.validation.status"] == "passed"
    logged = {a.path for a in client().list_artifacts(gate["weak"], "mlci/validation")}
    assert {"mlci/validation/junit.xml", "mlci/validation/validation.html", "mlci/validation/summary.md"} <= logged
    code, result = step("register", "first", root, runId=gate["weak"], imageDigest="sha256:" + "a" * 64)
    assert code == 0, result["summary"]
    mv = client().get_model_version("first", result["outputs"]["version"])
    assert mv.tags["mlci.validation.status"] == "passed" and mv.tags["mlci.build_url"] == BUILD_URL
    assert mv.tags["mlci.image.digest"] == "sha256:" + "a" * 64 and mv.tags["mlci.run_id"] == gate["weak"]
    assert mv.tags["mlci.data.fingerprint"] == client().get_run(gate["weak"]).data.tags["mlci.data.fingerprint"]
    assert aliases("first") == {"challenger": "1"}
    code, again = step("register", "first", root, runId=gate["weak"])
    assert (code, again["outputs"]["version"]) == (0, "1")  # the same run is not registered twice


def test_better_model_passes_is_promoted_and_rolled_back(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    champion(gate, "better", gate["weak"])
    assert aliases("better") == {"champion": "1"}
    code, result = step("validate", "better", root, runId=gate["strong"])
    assert code == 0, result["summary"]
    assert result["outputs"]["championVersion"] == "1" and result["outputs"]["championMetricsReused"] is True
    assert (
        "Against champion version 1 (its stored metrics on this holdout reused)."
        in (root / "reports" / "validate" / "summary.md").read_text()
    )
    assert step("register", "better", root, runId=gate["strong"])[0] == 0
    code, result = step("promote", "better", root)
    assert (code, result["summary"]) == (0, "better version 2 is @champion; version 1 is @previous-champion")
    assert aliases("better") == {"champion": "2", "previous-champion": "1"}
    code, result = step("rollback-model", "better", root)
    assert code == 0 and result["outputs"]["version"] == "1"
    assert aliases("better") == {"champion": "1", "previous-champion": "2"}
    assert step("rollback-model", "better", root)[0] == 0
    assert aliases("better") == {"champion": "2", "previous-champion": "1"}


def test_worse_model_fails_naming_each_metric_with_both_values(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    champion(gate, "worse", gate["strong"])
    code, result = step("validate", "worse", root, runId=gate["weak"])
    assert code == 1
    cand = result["outputs"]["metrics"]
    champ = json.loads(
        client().get_model_version("worse", "1").tags[f"mlci.metrics.{result['outputs']['holdoutDigest']}"]
    )
    summary = result["summary"]
    assert summary.startswith("2 of 4 checks failed (vs champion v1): metric accuracy_score: ")
    for name in ("accuracy_score", "f1_score"):
        assert f"{name} {cand[name]:.4f} vs champion {champ[name]:.4f}: misses" in summary
    assert f">= champion + 0.0100 = {champ['accuracy_score'] + 0.01:.4f}" in summary
    assert result["outputs"]["checks"] == {
        "metric accuracy_score": "failed",
        "metric f1_score": "failed",
        "model size": "passed",
        "latency p95": "passed",
    }
    suite = ET.parse(root / "reports" / "validate" / "junit.xml").getroot().find("testsuite")  # noqa: S314
    assert suite is not None and suite.get("failures") == "2"
    md = (root / "reports" / "validate" / "summary.md").read_text()
    assert "**Failing checks**" in md and "| accuracy_score |" in md and "**FAIL**" in md
    code, result = step("register", "worse", root, runId=gate["weak"])
    assert (code, aliases("worse")) == (1, {"champion": "1"})
    assert "its validation status is 'failed'" in result["summary"]


def test_slices_and_budgets_are_checked(gate: dict[str, str]) -> None:
    extra = """\
  slices:
    - column: region
      metric: accuracy_score
      min: 0.99
      max_gap: 0.0
"""
    root = Path(gate["root"])
    code, result = step("validate", "sliced", root, extra=extra, runId=gate["strong"], maxModelSizeMb=0.0001)
    assert code == 1
    checks = result["outputs"]["checks"]
    assert (
        checks["slices region accuracy_score min"] == "failed"
        and checks["slices region accuracy_score gap"] == "failed"
    )
    assert checks["model size"] == "failed"
    assert "(lowest of 4 slices): misses >= 0.9900" in result["summary"]
    assert "MB: over budget 0.0001 MB" in result["summary"]


def test_holdout_the_model_rejects_exits_2(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    import pandas as pd

    broken = root / "data" / "holdout-no-tenure.csv"
    pd.read_csv(root / "data" / "holdout.csv").drop(columns=["tenure_months"]).to_csv(broken, index=False)
    code, result = step("validate", "schema", root, runId=gate["strong"], holdout="data/holdout-no-tenure.csv")
    assert code == 2
    assert result["summary"].startswith(
        "data/holdout-no-tenure.csv: the candidate model rejects this data (its signature): "
    )
    assert "tenure_months" in result["summary"]


def test_champion_is_reevaluated_on_a_new_holdout_then_reused(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    import pandas as pd

    pd.read_csv(root / "data" / "holdout.csv").head(300).to_csv(root / "data" / "holdout-300.csv", index=False)
    champion(gate, "reeval", gate["weak"])
    first = step("validate", "reeval", root, runId=gate["strong"], holdout="data/holdout-300.csv")[1]
    assert first["status"] == "passed" and first["outputs"]["championMetricsReused"] is False
    digest = first["outputs"]["holdoutDigest"]
    assert "accuracy_score" in json.loads(client().get_model_version("reeval", "1").tags[f"mlci.metrics.{digest}"])
    second = step("validate", "reeval", root, runId=gate["strong"], holdout="data/holdout-300.csv")[1]
    assert second["outputs"]["championMetricsReused"] is True


def test_corrupt_champion_artifact_exits_2_and_alias_is_unchanged(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    code, result = step("train", "corrupt", root, params={"features": WEAK})
    assert code == 0
    run = result["outputs"]["runId"]
    champion(gate, "corrupt", run)
    source = client().get_model_version("corrupt", "1").source
    import mlflow
    import pandas as pd

    stored = Path(mlflow.get_logged_model(source.removeprefix("models:/")).artifact_location.removeprefix("file://"))
    (stored / "model.pkl").write_bytes(b"not a pickle")
    pd.read_csv(root / "data" / "holdout.csv").head(400).to_csv(root / "data" / "holdout-400.csv", index=False)
    code, result = step("validate", "corrupt", root, runId=gate["strong"], holdout="data/holdout-400.csv")
    # The model is broken, not the tracking server: exit 2 naming the model, not "MLflow at".
    assert code == 2, result["summary"]
    assert result["summary"].startswith(f"champion corrupt version 1 {source} cannot be loaded: UnpicklingError: ")
    assert "The champion alias is unchanged" in result["summary"]
    assert aliases("corrupt") == {"champion": "1"}


@pytest.mark.parametrize("command", ["train", "validate", "register", "promote", "rollback-model"])
def test_unreachable_mlflow_exits_3_and_changes_nothing(
    gate: dict[str, str], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    # mlflow.set_tracking_uri() writes MLFLOW_TRACKING_URI: let monkeypatch put it back.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", os.environ["MLFLOW_TRACKING_URI"])
    before = {m.name: m.aliases for m in client().search_registered_models()}
    params = {"runId": gate["strong"]} if command in ("validate", "register") else {}
    with refused_url() as url:
        code, result = step(command, "churn", Path(gate["root"]), trackingUri=url, **params)
    assert code == 3, result["summary"]
    assert result["summary"].startswith(f"MLflow at {url}: ") and "unreachable" in result["summary"]
    assert result["service"] == f"MLflow at {url}"
    assert {m.name: m.aliases for m in client().search_registered_models()} == before


def test_promote_refuses_a_version_that_failed_validation(gate: dict[str, str]) -> None:
    root = Path(gate["root"])
    champion(gate, "guarded", gate["strong"])
    from mlflow import MlflowClient

    c: MlflowClient = client()
    source = c.get_model_version("guarded", "1").source
    c.create_model_version("guarded", source, tags={"mlci.validation.status": "failed"})
    code, result = step("promote", "guarded", root, version="2")
    assert (code, result["summary"]) == (1, "guarded version 2 is not promoted: its validation status is 'failed'")
    assert aliases("guarded") == {"champion": "1"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_train_stops_the_child_ends_the_run_killed_and_writes_the_result(
    gate: dict[str, str], sig: signal.Signals
) -> None:
    root = Path(gate["root"])
    name = f"signal-{sig.name.lower()}"
    marker = root / f"{name}.pid"
    marker.unlink(missing_ok=True)
    sleeper = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    config = gatekit_config(name).replace(
        f"command: [{sys.executable}, train.py, --data, data/train.csv]",
        f"command: [{sys.executable}, -c, {json.dumps(sleeper)}]",
    )
    (root / f".mlci-{name}.yml").write_text(config)
    (root / f"{name}.params.json").write_text(json.dumps({"configFile": f".mlci-{name}.yml"}))
    result_file = root / f"{name}.result.json"
    proc = subprocess.Popen(
        [str(MLCI), "train", "--params", f"{name}.params.json", "--result", str(result_file)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (marker.exists() and marker.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "the training command never started"
            time.sleep(0.2)
        child = int(marker.read_text())
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    result = json.loads(result_file.read_text())
    assert result["summary"].startswith(f"interrupted ({sig.name}): training stopped; MLflow run ")
    assert result["summary"].endswith(" marked KILLED")
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    experiment = client().get_experiment_by_name(name)
    runs = client().search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert "Traceback" not in stderr
