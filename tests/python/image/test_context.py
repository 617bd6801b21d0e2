"""The build context: requirements from the model's MLflow environment, the Dockerfile's order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import REPO
from mlci.errors import InputError
from mlci.image import context
from mlci.image.source import ModelSource


def model_dir(tmp_path: Path, requirements: str, flavor: str = "cloudpickle") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "requirements.txt").write_text(requirements)
    (tmp_path / "MLmodel").write_text(
        "flavors:\n"
        "  python_function: {loader_module: mlflow.sklearn, model_path: model.pkl}\n"
        f"  sklearn: {{pickled_model: model.pkl, serialization_format: {flavor}}}\n"
    )
    return tmp_path


def test_full_mlflow_becomes_mlflow_skinny_at_the_same_version(tmp_path: Path) -> None:
    path = model_dir(
        tmp_path, "mlflow==3.17.2\n# comment\ncloudpickle==3.1.2\nmlflow[extras]>=3\nscikit-learn==1.9.1\n"
    )
    assert context.model_requirements(path) == [
        "mlflow-skinny==3.17.2",
        "cloudpickle==3.1.2",
        "mlflow-skinny>=3",
        "scikit-learn==1.9.1",
    ]


def test_pip_options_in_requirements_are_refused(tmp_path: Path) -> None:
    path = model_dir(tmp_path, "--extra-index-url https://example.invalid/simple\nnumpy\n")
    with pytest.raises(
        InputError, match=re.escape("pip option '--extra-index-url https://example.invalid/simple' is not supported")
    ):
        context.model_requirements(path)


def test_serving_requirements_are_mlcis_own_pins() -> None:
    reqs = context.serving_requirements()
    assert "mlflow-skinny==3.17.2" in reqs
    assert "prometheus-client==0.26.0" in reqs
    assert not any(r.startswith(("mlflow==", "great-expectations", "kubernetes")) for r in reqs)


def test_dockerfile_installs_offline_then_mlci_then_the_model(tmp_path: Path) -> None:
    source = ModelSource("models:/m/3", "m", "3", "r" * 32, "c" * 40, "fp", tmp_path)
    text = context.dockerfile("base:1", source, context.labels(source, "base:1"), lean=True)
    order = [
        "FROM base:1 AS deps",
        "pip install --no-index",
        "pip uninstall --yes --quiet setuptools pip",
        "site-packages/mlflow",
        "COPY --from=deps /opt/mlci/venv /opt/mlci/venv",
        "USER 10001:10001",
        "HEALTHCHECK",
        "COPY mlci/",
        "COPY model/ /opt/ml/model/",
        'MLCI_MODEL_VERSION="3"',
        'io.mlci.data.fingerprint="fp"',
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "site-packages/mlflow" not in context.dockerfile("base:1", source, {}, lean=False)


def test_lean_bytecode_only_for_models_served_without_mlflow(tmp_path: Path) -> None:
    assert context.lean_bytecode(model_dir(tmp_path / "a", "x\n")) is True
    assert context.lean_bytecode(model_dir(tmp_path / "b", "x\n", flavor="skops")) is False


def test_the_context_is_world_readable_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Jenkins run from Tomcat has umask 0027: files 0640, directories 0750, which the image's
    # non-root user could not read once the builder copies them in, root-owned.
    monkeypatch.setenv("MLCI_CACHE_DIR", str(REPO / ".cache" / "mlci"))
    previous = os.umask(0o027)
    try:
        model = model_dir(tmp_path / "downloaded" / "model", "")
        (model / "model.pkl").write_bytes(b"not really a pickle")
        source = ModelSource("models:/m/1", "m", "1", "r" * 32, "c" * 40, "fp", model)
        context.assemble(tmp_path / "ctx", source, "base:1")
    finally:
        os.umask(previous)
    unreadable = [
        str(p.relative_to(tmp_path))
        for p in [tmp_path / "ctx", *(tmp_path / "ctx").rglob("*")]
        if p.stat().st_mode & (0o005 if p.is_dir() else 0o004) != (0o005 if p.is_dir() else 0o004)
    ]
    assert not unreadable
    assert (tmp_path / "ctx" / "mlci" / "mlci" / "cli.py").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "ctx" / "model" / "model.pkl").stat().st_mode & 0o777 == 0o644


def test_test_and_dev_requirements_stay_out_of_the_image(tmp_path: Path) -> None:
    # What MLflow records for a scikit-learn model trained in a process that had pytest loaded.
    reqs = ["mlflow-skinny==3.17.2", "pytest==9.2.0", "scikit-learn==1.9.1", "skops==0.16.0", "pytest_cov>=5"]
    pickled = context.serving_only(reqs, model_dir(tmp_path / "a", ""))
    assert pickled.kept == ["mlflow-skinny==3.17.2", "scikit-learn==1.9.1"]
    assert pickled.dropped == ["pytest==9.2.0", "skops==0.16.0", "pytest_cov>=5"]
    # A model saved in the skops format is loaded by skops: it stays.
    skops = context.serving_only(reqs, model_dir(tmp_path / "b", "", flavor="skops"))
    assert skops.kept == ["mlflow-skinny==3.17.2", "scikit-learn==1.9.1", "skops==0.16.0"]
    assert skops.dropped == ["pytest==9.2.0", "pytest_cov>=5"]


def test_skops_stays_for_a_lightgbm_model_saved_in_skops(tmp_path: Path) -> None:
    # mlflow.lightgbm saves a scikit-learn-API LightGBM model as model.skops.
    (tmp_path / "MLmodel").write_text(
        "flavors:\n"
        "  python_function: {loader_module: mlflow.lightgbm, data: model.skops}\n"
        "  lightgbm: {data: model.skops, serialization_format: skops}\n"
    )
    kept = context.serving_only(["lightgbm==4.7.0", "pytest==9.2.0", "skops==0.16.0"], tmp_path)
    assert kept.kept == ["lightgbm==4.7.0", "skops==0.16.0"]
    assert kept.dropped == ["pytest==9.2.0"]
