"""`mlci drift`: reference file or registered model, file or folder of batches, reports,
gauges in a real Pushgateway, and the exit codes."""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlci import protocol
from mlci.drift import reference

N = 5000


def frame(seed: int, n: int = N, columns: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"x{i}": rng.normal(i, 1 + i, n) for i in range(columns)}
    data["plan"] = rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(data)


@pytest.fixture
def repo(project: Path) -> Path:
    reference.save(reference.compute(frame(0)), project / "ref.json")
    (project / "data").mkdir()
    frame(1).to_csv(project / "data" / "same.csv", index=False)
    shifted = frame(2)
    for col in ["x0", "x1", "x2"]:
        shifted[col] += 3 * (1 + int(col[1]))  # 3 sigma: 3 of 5 columns drift
    shifted.to_parquet(project / "data" / "shifted.parquet")
    return project


def run(**params: Any) -> tuple[int, dict[str, Any]]:
    return protocol.execute("drift", {"reference": "ref.json", **params})


def test_no_drift_passes_and_writes_reports(repo: Path) -> None:
    code, result = run(current="data/same.csv")
    assert (code, result["status"]) == (0, "passed")
    assert result["summary"] == "no dataset drift: 0 of 5 columns drifted (0%, dataset drift at 50%): none"
    assert result["outputs"] | {"rowsUsed": 0} == {
        "datasetDrift": False,
        "driftedShare": 0.0,
        "driftedColumns": [],
        "warnColumns": [],
        "columns": 5,
        "rows": N,
        "rowsUsed": 0,
        "reference": "ref.json",
    }
    assert result["reports"] == [
        "reports/drift/drift.json",
        "reports/drift/drift.html",
        "reports/drift/mlci-report.css",
    ]
    doc = json.loads((repo / "reports" / "drift" / "drift.json").read_text())
    assert doc["datasetDrift"] is False and set(doc["columns"]) == {"x0", "x1", "x2", "x3", "plan"}
    assert set(doc["columns"]["x0"]["statistics"]) == {"psi", "ks", "ks_pvalue", "wasserstein"}
    assert set(doc["columns"]["plan"]["statistics"]) == {"psi", "chi_square", "chi_square_pvalue", "jensen_shannon"}


def test_dataset_drift_fails_naming_columns_and_statistics(repo: Path) -> None:
    code, result = run(current="data/shifted.parquet")
    assert (code, result["status"]) == (1, "failed")
    summary = result["summary"]
    assert summary.startswith("dataset drift: 3 of 5 columns drifted (60%, dataset drift at 50%): x0 (psi ")
    assert ", x1 (psi " in summary and ", x2 (psi " in summary
    page = (repo / "reports" / "drift" / "drift.html").read_text()
    assert page.count("<svg") == 5 and "DATASET DRIFT" in page
    for svg in page.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")  # noqa: S314 - our own SVG must be well-formed
    # A higher dataset share, given as a step param, turns the same data into a pass.
    code, result = run(current="data/shifted.parquet", datasetShare=0.7)
    assert code == 0 and result["outputs"]["driftedColumns"] == ["x0", "x1", "x2"]


def test_folder_of_request_batches(repo: Path) -> None:
    batches = repo / "captured"
    batches.mkdir()
    current = frame(3, 3000)
    current.loc[:599, "plan"] = "enterprise"
    current.iloc[:1000].to_json(batches / "inputs-1.jsonl", orient="records", lines=True)
    current.iloc[1000:2000].to_csv(batches / "inputs-2.csv", index=False)
    current.iloc[2000:].to_parquet(batches / "inputs-3.parquet")
    code, result = run(current="captured")
    assert code == 0
    assert (result["outputs"]["rows"], result["outputs"]["driftedColumns"]) == (3000, ["plan"])
    doc = json.loads((repo / "reports" / "drift" / "drift.json").read_text())
    assert doc["columns"]["plan"]["new_values"] == {"enterprise": 0.2}


def test_sampling_above_sample_rows(repo: Path) -> None:
    code, result = run(current="data/same.csv", sampleRows=1000)
    assert code == 0 and (result["outputs"]["rows"], result["outputs"]["rowsUsed"]) == (N, 1000)


def test_json_stays_under_50_kb_with_many_columns(project: Path) -> None:
    wide = frame(0, 2000, columns=300)
    reference.save(reference.compute(wide), project / "ref.json")
    shifted = frame(1, 2000, columns=300)
    shifted["x0"] += 5
    shifted.to_parquet(project / "wide.parquet")
    code, _ = run(current="wide.parquet")
    assert code == 0
    text = (project / "reports" / "drift" / "drift.json").read_text()
    doc = json.loads(text)
    assert len(text.encode()) <= 50_000
    assert doc["truncated"] is True and doc["columns"]["x1"] == {"status": "ok"}
    assert doc["columns"]["x0"]["status"] == "drift" and "statistics" in doc["columns"]["x0"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"current": "data/nope.csv"}, "data/nope.csv: data file not found"),
        (
            {"current": "data/same.csv", "reference": "nope.json"},
            "nope.json: drift reference not found (it is logged by `mlci train`)",
        ),
        ({}, "monitoring.drift.current: not set; pass current: a data file or a folder of request batches"),
        (
            {"current": "data/same.csv", "reference": "models:/demo"},
            "monitoring.drift.reference: 'models:/demo' is neither models:/NAME@ALIAS nor models:/NAME/VERSION",
        ),
    ],
)
def test_bad_input_exits_2(repo: Path, params: dict[str, Any], message: str) -> None:
    code, result = protocol.execute("drift", {"reference": "ref.json", **params})
    assert (code, result["summary"]) == (2, message)


def test_missing_column_and_text_in_numeric_column_exit_2(repo: Path) -> None:
    frame(1).drop(columns=["x2"]).to_csv(repo / "data" / "short.csv", index=False)
    code, result = run(current="data/short.csv")
    assert (code, result["summary"]) == (
        2,
        "data/short.csv: column 'x2' of the drift reference is missing from the current data",
    )
    text = frame(1, 10).astype({"x1": str})
    text.loc[4, "x1"] = "twelve"
    text.to_csv(repo / "data" / "text.csv", index=False)
    code, result = run(current="data/text.csv")
    assert (code, result["summary"]) == (
        2,
        "data/text.csv: column 'x1' is numeric in the drift reference but holds text: 'twelve' in data row 5",
    )


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 - local test service
        return response.read().decode()


def test_gauges_reach_the_pushgateway(repo: Path, pushgateway: Any) -> None:
    code, _ = run(current="data/shifted.parquet", pushgatewayUrl=pushgateway.url)
    assert code == 1
    text = metrics_text(pushgateway.url)
    assert 'mlci_dataset_drift{instance="",job="mlci_drift",model="demo"} 1' in text
    assert 'mlci_drift_column{column="x0",instance="",job="mlci_drift",model="demo"} 1' in text
    assert 'mlci_drift_column{column="x3",instance="",job="mlci_drift",model="demo"} 0' in text
    for statistic in ["psi", "ks", "ks_pvalue", "wasserstein", "null_fraction"]:
        assert (
            f'mlci_drift_score{{column="x0",instance="",job="mlci_drift",model="demo",statistic="{statistic}"}}' in text
        )
    for statistic in ["psi", "chi_square", "chi_square_pvalue", "jensen_shannon"]:
        assert (
            f'mlci_drift_score{{column="plan",instance="",job="mlci_drift",model="demo",statistic="{statistic}"}}'
            in text
        )


def test_unreachable_pushgateway_is_exit_3_after_writing_reports(repo: Path) -> None:
    from services.ports import refused_url

    with refused_url() as url:
        code, result = run(current="data/same.csv", pushgatewayUrl=url)
    assert code == 3 and result["service"] == f"pushgateway {url}"
    assert result["summary"].startswith(f"pushgateway {url}: cannot push the drift gauges (")
    assert result["summary"].endswith("the drift results are in reports/drift/drift.json")
    assert (repo / "reports" / "drift" / "drift.json").is_file() and (
        repo / "reports" / "drift" / "drift.html"
    ).is_file()


def test_reference_from_a_registered_model(repo: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{repo / 'mlflow.db'}"
    with (repo / ".mlci.yml").open("a") as f:
        f.write(f"mlflow:\n  tracking_uri: {uri}\n")
    mlflow.set_tracking_uri(uri)
    logged = repo / "logged" / Path(reference.ARTIFACT_PATH).name
    logged.parent.mkdir()
    (repo / "ref.json").rename(logged)  # only the copy in the run can be used
    with mlflow.start_run() as trained:
        mlflow.log_artifact(str(logged), str(Path(reference.ARTIFACT_PATH).parent))
    with mlflow.start_run() as untrained:
        mlflow.log_param("no", "reference")
    client = MlflowClient(uri)
    client.create_registered_model("demo")
    for run_ in (trained, untrained):
        client.create_model_version("demo", f"runs:/{run_.info.run_id}/model", run_.info.run_id)
    client.set_registered_model_alias("demo", "champion", "1")
    code, result = protocol.execute("drift", {"current": "data/shifted.parquet"})
    assert code == 1, result["summary"]
    assert result["outputs"]["reference"] == "models:/demo@champion"
    code, result = protocol.execute("drift", {"current": "data/same.csv", "reference": "models:/demo/1"})
    assert code == 0
    code, result = protocol.execute("drift", {"current": "data/same.csv", "reference": "models:/demo@nobody"})
    assert code == 2 and result["summary"].startswith(
        "monitoring.drift.reference models:/demo@nobody: no such model version in MLflow at sqlite:///"
    )
    code, result = protocol.execute("drift", {"current": "data/same.csv", "reference": "models:/demo/2"})
    assert code == 2 and result["summary"].startswith(
        f"monitoring.drift.reference models:/demo/2: run {untrained.info.run_id} has no mlci/drift_reference.json "
        "(`mlci train` logs it): "
    )
