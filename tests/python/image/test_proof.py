"""The image is proven before it is pushed, on the real Docker engine and registry: a LightGBM
model (which needs the system's libgomp1) is built without and with `image.system_packages`;
the first image fails its proof run with the library named and is never pushed, the second
serves the holdout as the model does in-process and is pushed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from image.test_build import Build, in_image, mlci_build
from services.model_store import Store, use_store

from conftest import write
from mlci.image import proof

FEATURES = ["a", "b", "c"]
# A cold LightGBM build took 425 s on the loaded 2-core test machine, then the proof run.
SLOW = 1500


@dataclass(frozen=True)
class Lgbm:
    project: Path
    holdout: Path
    other_model: Path  # a LightGBM model with other predictions, saved locally


def rows(count: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(count, 3)), columns=FEATURES)
    frame["label"] = (frame["a"] + 0.5 * frame["b"] > 0).astype(int)
    return frame


@pytest.fixture(scope="module")
def lgbm(model_store: Store, registry: str, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Lgbm:
    import lightgbm
    import mlflow
    import mlflow.lightgbm
    import pytest as installed_pytest
    from mlflow.models import infer_signature

    work = tmp_path_factory.mktemp("lgbm")
    train = rows(300, 1)
    model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(train[FEATURES], train["label"])
    with use_store(model_store.tracking_uri), mlflow.start_run(experiment_id=model_store.experiment_id):
        mlflow.lightgbm.log_model(
            model,
            name="model",
            signature=infer_signature(train[FEATURES], train["label"]),
            input_example=train[FEATURES].head(3),
            registered_model_name="lgbm",
            # What MLflow records when training ran under pytest: it must not reach the image.
            extra_pip_requirements=[f"pytest=={installed_pytest.__version__}"],
        )
    other = lightgbm.LGBMClassifier(n_estimators=3, num_leaves=3, verbose=-1).fit(train[FEATURES], 1 - train["label"])
    other_dir = work / "other-model"
    mlflow.lightgbm.save_model(other, str(other_dir), signature=infer_signature(train[FEATURES], train["label"]))
    project = work / "project"
    holdout = project / "data" / "holdout.csv"
    holdout.parent.mkdir(parents=True)
    rows(40, 2).to_csv(holdout, index=False)
    write(project / ".mlci.yml", config(model_store, registry, base_image, []))
    return Lgbm(project, holdout, other_dir)


def config(store: Store, registry: str, base_image: str, packages: list[str]) -> str:
    return f"""\
        version: 1
        model:
          name: lgbm
          task: classification
          target: label
        data:
          holdout: data/holdout.csv
        mlflow:
          tracking_uri: {store.tracking_uri}
        image:
          registry: "{registry}"
          base_image: {base_image}
          system_packages: {json.dumps(packages)}
          # The shared test machine can be slow to import mlflow in the container (minutes at a
          # load of 20 on 2 cores); the default (120 s) suits a deploy host.
          ready_timeout_seconds: 600
        """


def manifest_status(registry: str, repository: str, tag: str) -> int:
    req = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - local registry
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def without_libgomp(lgbm: Lgbm, model_store: Store) -> Build:
    return mlci_build(lgbm.project, model_store, timeout=SLOW, modelUri="models:/lgbm/1")


@pytest.fixture(scope="module")
def with_libgomp(lgbm: Lgbm, model_store: Store, registry: str, base_image: str, without_libgomp: Build) -> Build:
    write(lgbm.project / ".mlci.yml", config(model_store, registry, base_image, ["libgomp1"]))
    return mlci_build(lgbm.project, model_store, timeout=SLOW, modelUri="models:/lgbm/1")


def test_an_image_that_cannot_load_its_model_fails_the_proof_naming_the_library_and_is_not_pushed(
    without_libgomp: Build, registry: str
) -> None:
    out = without_libgomp
    assert out.code == 1, out.stderr
    summary = out.result["summary"]
    assert "before it was ready" in summary, summary
    assert "libgomp.so.1 is missing in the image" in summary and "(likely libgomp1)" in summary, summary
    # The container's last log lines, where the model load failed.
    assert "cannot open shared object file" in out.stderr, out.stderr
    assert out.result["outputs"]["digest"] is None
    assert manifest_status(registry, "lgbm", "1") == 404


def test_with_the_system_package_the_image_serves_the_holdout_as_the_model_does_and_is_pushed(
    with_libgomp: Build, registry: str
) -> None:
    out = with_libgomp
    assert out.code == 0, out.stderr
    outputs = out.result["outputs"]
    assert outputs["proof"] == {"passed": True, "rows": 20, "compared": True, "seconds": outputs["proof"]["seconds"]}
    assert manifest_status(registry, "lgbm", "1") == 200
    assert manifest_status(registry, "lgbm", outputs["digest"]) == 200
    # MLflow's recorded pytest stayed out of the image, and the step says so.
    assert [r for r in outputs["droppedRequirements"] if r.startswith("pytest==")], outputs
    assert "not installed in the image (test/dev only): pytest==" in out.stderr
    script = "import importlib.util as u; print(u.find_spec('pytest'), u.find_spec('lightgbm') is not None)"
    found = in_image(outputs["image"], "python3", script)
    assert found == ["None", "True"]
    dockerfile = (out.project / "reports" / "build" / "Dockerfile").read_text()
    assert "apt-get install --yes --no-install-recommends" in dockerfile


def test_predictions_that_differ_from_the_models_own_fail_the_proof(with_libgomp: Build, lgbm: Lgbm) -> None:
    holdout = rows(40, 2).drop(columns=["label"]).head(10)
    body = {"dataframe_split": json.loads(holdout.to_json(orient="split", index=False))}
    # The same image, compared with another model: every difference is a failed proof.
    result = proof.prove(with_libgomp.result["outputs"]["image"], lgbm.other_model, body, 600)
    assert not result.passed
    assert "predictions differ from the model's own (row " in result.message, result.message
    assert proof.prove(with_libgomp.result["outputs"]["image"], lgbm.project / "none", None, 600).passed


def test_a_debian_package_the_mirror_does_not_have_is_bad_input(
    with_libgomp: Build, lgbm: Lgbm, model_store: Store, registry: str, base_image: str
) -> None:
    write(lgbm.project / ".mlci.yml", config(model_store, registry, base_image, ["libgomp1", "no-such-package-x"]))
    out = mlci_build(lgbm.project, model_store, timeout=SLOW, modelUri="models:/lgbm/1", tag="nopkg")
    assert out.code == 2, out.stderr
    assert out.result["summary"].startswith("image.system_packages: no-such-package-x"), out.result["summary"]


def test_a_malformed_package_name_is_refused_when_the_config_loads(
    model_store: Store, registry: str, base_image: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    write(project / ".mlci.yml", config(model_store, registry, base_image, ["libgomp1; rm -rf /"]))
    out = mlci_build(project, model_store, modelUri="models:/lgbm/1")
    assert out.code == 2
    assert ".mlci.yml:13 image.system_packages[0]: string should match pattern" in out.result["summary"]


@pytest.mark.parametrize(
    ("library", "package"),
    [("libgomp.so.1", "libgomp1"), ("libfoo.so.3", "libfoo3"), ("libbar2.so.0", "libbar2-0"), ("libGL.so.1", "libgl1")],
)
def test_likely_debian_package_of_a_library(library: str, package: str) -> None:
    assert proof.likely_package(library) == package
    assert f"(likely {package})" in str(proof.missing_library(f"OSError: {library}: cannot open shared object file"))


@pytest.mark.parametrize(
    "output",
    [
        "Reading state information...\nE: Unable to locate package no-such-package-x\n",
        # apt colours the `E` (a build seen under load): the escapes split the words.
        "Reading state information...\n\x1b[91mE\x1b[0m\x1b[91m: Unable to locate package no-such-package-x\n\x1b[0m",
    ],
    ids=["plain", "coloured"],
)
def test_the_unknown_package_is_read_from_apts_output(output: str) -> None:
    from mlci.image import build

    assert build.unknown_package(output) == "no-such-package-x"
    assert build.unknown_package("E: Sub-process /usr/bin/dpkg returned an error code (1)") is None
