"""Resolve a model URI to its files and its lineage: name, version, run, git commit, data.

`models:/name/3`, `models:/name@candidate` (registry) and `runs:/<id>/model` are resolved
through the MLflow client; any other URI MLflow can download (a local path) works too,
with what lineage its MLmodel carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import InfrastructureError, InputError

REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w.-]+))$")
RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-fA-F]+)/(?P<path>.+)$")
GIT_TAGS = ("mlci.git.commit", "mlflow.source.git.commit")
FINGERPRINT_TAG = "mlci.data.fingerprint"


@dataclass(frozen=True)
class ModelSource:
    uri: str
    name: str
    version: str  # registry version, "" for a run or a path
    run_id: str
    git_commit: str
    data_fingerprint: str
    path: Path  # the downloaded model directory


def _tracking_service() -> str:
    import mlflow

    return f"MLflow ({mlflow.get_tracking_uri()})"


def resolve(uri: str, dest: Path, default_name: str) -> ModelSource:
    """Download the model at `uri` into `dest` and read its lineage."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name, version, run_id = default_name, "", ""
    tags: dict[str, str] = {}
    try:
        if match := REGISTRY_URI.match(uri):
            name = match["name"]
            mv = (
                client.get_model_version(name, match["version"])
                if match["version"]
                else client.get_model_version_by_alias(name, match["alias"])
            )
            version, run_id = str(mv.version), mv.run_id or ""
            tags.update(mv.tags or {})
        elif match := RUN_URI.match(uri):
            run_id = match["run"]
        if run_id:
            run_tags = client.get_run(run_id).data.tags
            tags = {**run_tags, **tags}
        dest.mkdir(parents=True, exist_ok=True)
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    except MlflowException as err:
        code = getattr(err, "error_code", "")
        if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise InputError(f"modelUri {uri}: {err.message}") from None
        raise InfrastructureError(_tracking_service(), str(err.message)) from None
    except OSError as err:
        raise InputError(f"modelUri {uri}: cannot download the model: {err}") from None
    if not (local / "MLmodel").is_file():
        raise InputError(f"modelUri {uri}: no MLmodel file in what it points to; point it at an MLflow model")
    if not run_id:
        from mlci.serving.model import read_mlmodel

        run_id = str(read_mlmodel(local).get("run_id") or "")
    git = next((tags[t] for t in GIT_TAGS if tags.get(t)), "unknown")
    return ModelSource(uri, name, version, run_id, git, tags.get(FINGERPRINT_TAG, "unknown"), local)
