"""`mlci register`: the validated candidate becomes a model version with alias `challenger`.

Lineage tags on the version: git commit, data fingerprint, validation status, build URL and
image digest when known, and its metrics on the validation holdout (so that once promoted,
its metrics are reused instead of re-evaluated). A candidate that did not pass validation
is not registered. Registering the same run again updates its version instead of adding one.
"""

from __future__ import annotations

from typing import Any

from mlci import candidate, lineage, tracking
from mlci.errors import InputError
from mlci.step import StepContext, StepResult
from mlci.steps.validate import HOLDOUT_TAG, METRICS_TAG, STATUS_TAG, metrics_tag

CHALLENGER = "challenger"


def _version_of_run(client: Any, srv: tracking.Server, name: str, run_id: str) -> Any:
    with tracking.guard(srv, f"looking for versions of {name} from run {run_id}"):
        try:
            found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        except Exception as err:
            if tracking.is_not_found(err):
                return None
            raise
    return max(found, key=lambda v: int(v.version)) if found else None


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config
    name = cfg.model.name
    run_id = candidate.run_id(ctx)
    srv = tracking.server(cfg, ctx.project_dir)
    client = tracking.connect(srv)
    mlrun = tracking.get_run(client, srv, run_id)
    tags = mlrun.data.tags
    status = tags.get(STATUS_TAG, "not validated")
    if status != "passed":
        return StepResult(
            "failed",
            f"run {run_id} is not registered: its validation status is {status!r} (mlci validate must pass first)",
        )
    model_uri = tags.get("mlci.model.uri")
    if not model_uri:
        raise InputError(f"runId: run {run_id} has no mlci.model.uri tag; train it with `mlci train`")
    version_tags = {
        "mlci.run_id": run_id,
        "mlci.validation.status": status,
        "mlci.git.commit": tags.get("mlci.git.commit", "unknown"),
        "mlci.git.dirty": tags.get("mlci.git.dirty", "unknown"),
        "mlci.data.fingerprint": tags.get("mlci.data.fingerprint", "unknown"),
    }
    build_url = lineage.build_url() or tags.get("mlci.build_url")
    if build_url:
        version_tags["mlci.build_url"] = build_url
    if ctx.options.get("imageDigest"):
        version_tags["mlci.image.digest"] = str(ctx.options["imageDigest"])
    if tags.get(HOLDOUT_TAG) and tags.get(METRICS_TAG):
        version_tags[metrics_tag(tags[HOLDOUT_TAG])] = tags[METRICS_TAG]
    existing = _version_of_run(client, srv, name, run_id)
    with tracking.guard(srv, f"registering {model_uri} as {name}"):
        if existing is None:
            try:
                client.create_registered_model(name)
            except Exception as err:
                if getattr(err, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                    raise
            model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/") else None
            mv = client.create_model_version(name, model_uri, run_id=run_id, tags=version_tags, model_id=model_id)
            version, how = str(mv.version), "registered as"
        else:
            version, how = str(existing.version), "already registered as"
            for key, value in version_tags.items():
                client.set_model_version_tag(name, version, key, value)
        client.set_registered_model_alias(name, CHALLENGER, version)
    outputs = {
        "modelName": name,
        "version": version,
        "alias": CHALLENGER,
        "modelUri": f"models:/{name}/{version}",
        "runId": run_id,
    }
    return StepResult("passed", f"run {run_id} {how} {name} version {version} (@{CHALLENGER})", outputs)
