"""Choosing a model's Python from its logged requirements, and the data format the worker shares."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci.errors import InfrastructureError, InputError, MlciError
from mlci.gate import modelenv
from mlci.gate import modelenv_worker as wire

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def model_dir(tmp_path: Path, requirements: str, python: str | None = RUNNING + ".1") -> Path:
    (tmp_path / "requirements.txt").write_text(requirements, encoding="utf-8")
    if python:
        (tmp_path / "python_env.yaml").write_text(
            f"python: {python}\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt]\n", encoding="utf-8"
        )
    return tmp_path


def test_met_when_installed_even_with_other_pins_of_non_frameworks(tmp_path: Path) -> None:
    sk, np_version = metadata.version("scikit-learn"), metadata.version("numpy")
    reqs = modelenv.read_requirements(
        model_dir(tmp_path, f"mlflow==2.0.0\nscikit-learn=={sk}\nnumpy<{np_version}  # older numpy\n# note\n\n")
    )
    assert reqs.python == RUNNING and reqs.lines == ["mlflow==2.0.0", f"scikit-learn=={sk}", f"numpy<{np_version}"]
    assert modelenv.unmet(reqs) == []  # mlflow is mlci's own in every env; numpy's pin is not a framework's


def test_unmet_names_a_missing_package_a_framework_version_and_the_python(tmp_path: Path) -> None:
    reqs = modelenv.read_requirements(
        model_dir(tmp_path, 'inflection==0.5.1\nscikit-learn==1.0.2\nlightgbm; python_version < "3"\n', "3.9.18")
    )
    assert modelenv.unmet(reqs) == [
        f"Python 3.9 (mlci runs {RUNNING})",
        "inflection==0.5.1 (not installed)",
        f"scikit-learn==1.0.2 ({metadata.version('scikit-learn')} installed)",
    ]


def test_env_installs_mlcis_mlflow_and_pandas_and_its_key_follows_the_requirements(tmp_path: Path) -> None:
    reqs = modelenv.read_requirements(model_dir(tmp_path, "mlflow-skinny==2.9.0\ninflection==0.5.1\n"))
    installs = modelenv.env_requirements(reqs)
    assert installs == ["inflection==0.5.1", f"mlflow-skinny=={metadata.version('mlflow')}", "pandas"]
    key = modelenv.env_key(installs, reqs.python)
    assert key == modelenv.env_key(list(installs), RUNNING)
    assert key != modelenv.env_key([*installs, "toolz"], RUNNING) != modelenv.env_key(installs, "3.12")


def test_a_model_without_requirements_cannot_get_an_env(tmp_path: Path) -> None:
    from mlci.errors import InputError

    with pytest.raises(InputError, match=r"^requirements.txt of the model: not found"):
        modelenv.read_requirements(tmp_path)


def test_data_keeps_values_and_types_across_the_worker_boundary(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "n": np.array([1, 2, 3], dtype="int64"),
            "x": [0.1, float("nan"), 1 / 3],
            "s": ["a", "b", None],
            "b": [True, False, True],
            "t": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
        }
    )
    wire.write(str(tmp_path / "f.json"), frame)
    back = wire.read(str(tmp_path / "f.json"))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert [str(t) for t in back.dtypes[["n", "x", "b"]]] == ["int64", "float64", "bool"]
    assert back["t"].dtype.kind == "M" and back.loc[2, "x"] == 1 / 3  # floats exactly, not rounded
    probs = np.array([[0.25, 0.75], [1 / 3, 2 / 3]])
    wire.write(str(tmp_path / "p.json"), probs)
    np.testing.assert_array_equal(wire.read(str(tmp_path / "p.json")), probs)
    wire.write(str(tmp_path / "l.json"), np.array(["yes", "no"]))
    assert wire.read(str(tmp_path / "l.json")).tolist() == ["yes", "no"]
    wire.write(str(tmp_path / "v.json"), np.float64(0.5))
    assert wire.read(str(tmp_path / "v.json")) == 0.5


@pytest.mark.parametrize(
    ("script", "error", "message"),
    [
        ("echo 'Fatal Python error: Segmentation fault' >&2; exit 139", InputError, "exited (139)"),
        ("echo 'Fatal Python error: Aborted' >&2; kill -ABRT $$", InputError, "exited (-6)"),
        ("echo 'Fatal Python error: none' >&2; kill -KILL $$", InfrastructureError, "killed (SIGKILL"),
    ],
    ids=["exit", "abort", "killed"],
)
def test_a_worker_that_dies_blames_the_model_unless_it_was_killed(
    tmp_path: Path, script: str, error: type[Exception], message: str
) -> None:
    """A crash in the model's code or native libraries is the model's (exit 2); SIGKILL (the OOM
    killer) is the agent's (exit 3). Either names the model and the worker's last words."""
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\n{script}\n")
    python.chmod(0o755)
    with pytest.raises(MlciError) as caught:
        modelenv.Worker(python, tmp_path, tmp_path / "work", "the champion models:/m/1")
    text = str(caught.value)
    assert type(caught.value) is error and message in text, text
    assert "the champion models:/m/1" in text and "Fatal Python error" in text, text
