"""Where the drift reference comes from: a JSON file, or the run behind a registered model
version (`models:/name@alias` or `models:/name/3`), whose artifacts hold what `mlci train`
logged at `reference.ARTIFACT_PATH`. MLflow is imported only for the latter."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from mlci.drift import reference
from mlci.errors import InputError

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")
KEY = "monitoring.drift.reference"


def load(spec: str, cfg: Any, project_dir: Path) -> dict[str, Any]:
    if spec.startswith("models:/"):
        return _from_model(spec, cfg, project_dir)
    return reference.load(project_dir / spec)


def _from_model(spec: str, cfg: Any, project_dir: Path) -> dict[str, Any]:
    from mlci import tracking

    match = MODEL_URI.match(spec)
    if not match:
        raise InputError(f"{KEY}: {spec!r} is neither models:/NAME@ALIAS nor models:/NAME/VERSION")
    srv = tracking.server(cfg, project_dir)
    client = tracking.connect(srv)
    name = match["name"]
    with tracking.guard(srv, f"resolving {spec}"):
        try:
            if match["alias"]:
                version = client.get_model_version_by_alias(name, match["alias"])
            else:
                version = client.get_model_version(name, match["version"])
        except Exception as err:
            if tracking.is_not_found(err) or getattr(err, "error_code", None) == "INVALID_PARAMETER_VALUE":
                raise InputError(f"{KEY} {spec}: no such model version in {srv.name}") from None
            raise
    if not version.run_id:
        raise InputError(f"{KEY} {spec}: version {version.version} has no training run")
    import mlflow

    with tempfile.TemporaryDirectory(prefix="mlci-drift-") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=version.run_id,
                artifact_path=reference.ARTIFACT_PATH,
                dst_path=tmp,
                tracking_uri=srv.tracking_uri,
            )
        except Exception as err:  # MLflow says "not found" in several exception types, by store
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise InputError(
                f"{KEY} {spec}: run {version.run_id} has no {reference.ARTIFACT_PATH} (`mlci train` logs it): {first}"
            ) from None
        return reference.load(Path(local))
