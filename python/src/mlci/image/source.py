"""Resolve a model URI to its files and its lineage: name, version, run, git commit, data.

`models:/name/3`, `models:/name@candidate` (registry) and `runs:/<id>/model` are resolved
through the MLflow client; any other URI MLflow can download (a local path) works too,
with what lineage its MLmodel carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlci import tracking
from mlci.errors import InputError

if TYPE_CHECKING:
    from mlflow import MlflowClient

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


def resolve(uri: str, dest: Path, default_name: str, client: MlflowClient, srv: tracking.Server) -> ModelSource:
    """Download the model at `uri` into `dest` and read its lineage, through `client` (from
    `tracking.connect`: the step's server, its timeouts and credentials)."""
    from mlflow.exceptions import MlflowException

    with tracking.guard(srv, f"downloading {uri}", download=True):
        try:
            name, version, run_id, tags, local = _fetch(uri, dest, client, default_name)
        except MlflowException as err:
            code = getattr(err, "error_code", "")
            if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise InputError(f"modelUri {uri}: {err.message}") from None
            raise
        except OSError as err:
            if type(err).__module__.startswith(("requests", "urllib3")):
                raise  # the server's failure, not the URI's
            raise InputError(f"modelUri {uri}: cannot download the model: {err}") from None
    if not (local / "MLmodel").is_file():
        raise InputError(f"modelUri {uri}: no MLmodel file in what it points to; point it at an MLflow model")
    if not run_id:
        from mlci.serving.model import read_mlmodel

        run_id = str(read_mlmodel(local).get("run_id") or "")
    git = next((tags[t] for t in GIT_TAGS if tags.get(t)), "unknown")
    return ModelSource(uri, name, version, run_id, git, tags.get(FINGERPRINT_TAG, "unknown"), local)


def _fetch(uri: str, dest: Path, client: MlflowClient, name: str) -> tuple[str, str, str, dict[str, str], Path]:
    """(name, version, run id, tags, local directory) of the model at `uri`."""
    import mlflow

    version, run_id = "", ""
    tags: dict[str, str] = {}
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
        tags = {**client.get_run(run_id).data.tags, **tags}
    dest.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    return name, version, run_id, tags, local
