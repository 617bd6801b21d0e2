"""`mlci build`: the model's serving image, built from a model URI and pushed by digest.

The build context (wheels fetched on the host, the model, a generated Dockerfile) and the
build log are kept under the step's reports; outputs carry the pushed digest and the
`name@sha256:` reference that deploy steps use.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mlci import log, masking, tracking
from mlci.errors import InputError
from mlci.image import build, context, engine, proof, source
from mlci.step import StepContext, StepResult

# The alias the register stage gives the version that passed validation.
CANDIDATE_ALIAS = "challenger"
NEVER_MOVED = "a model version's tag is never moved silently (overwriteTag: true to replace it)"


def proof_rows(ctx: StepContext, model_dir: Path) -> dict[str, Any] | None:
    """What the proof run sends: the first holdout rows (as the smoke test would), else the
    model's own input example (the server predicts it before it is ready), else nothing."""
    from mlci.config import SmokeConfig
    from mlci.deploy import smoke
    from mlci.serving.model import read_mlmodel, serving_example

    if ctx.config.data.holdout:
        return smoke.holdout_rows(ctx.config, ctx.project_dir, SmokeConfig()).payload()
    example = serving_example(model_dir, read_mlmodel(model_dir))
    return example if example and "dataframe_split" in example else None


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config
    opts = ctx.options
    uri = opts.get("modelUri") or f"models:/{cfg.model.name}@{CANDIDATE_ALIAS}"
    # The same server, timeouts and credentials as every other step (tracking.connect).
    srv = tracking.server(cfg, ctx.project_dir)
    client = tracking.connect(srv)
    engine.client()  # no daemon, no build: say so before downloading anything
    work = ctx.report_dir / "context"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model = source.resolve(uri, work / "model", cfg.model.name, client, srv)
    repository = cfg.image.repository or cfg.model.name
    if cfg.image.registry:
        repository = f"{cfg.image.registry}/{repository}"
    tag = opts.get("tag") or model.version or model.run_id[:12]
    if not tag:
        raise InputError(f"modelUri {uri}: no version or run id to tag the image with; pass tag")
    build.check_reference(repository, tag)
    log.info(
        f"model {model.name} {model.version or model.run_id} from {uri}; "
        f"image {repository}:{tag} on {cfg.image.base_image}"
    )
    push = bool(opts.get("push", True))
    overwrite = bool(opts.get("overwriteTag", False))
    if push and not cfg.image.registry:
        raise InputError("image.registry: not set; set it in .mlci.yml (or the registry param), or pass push: false")
    # A taken tag is refused before the build (minutes when cold), not after it.
    if push and not overwrite and (held := build.taken(repository, tag, model.run_id, model.uri)):
        return StepResult("failed", f"{held}; {NEVER_MOVED}", {"image": f"{repository}:{tag}", "digest": None})
    assembled = context.assemble(work, model, cfg.image.base_image, cfg.image.system_packages)
    built = build.build(work, f"{repository}:{tag}", ctx.report_dir / "build.log")
    outputs: dict[str, object] = {
        "image": f"{repository}:{tag}",
        "imageId": built.image_id,
        "sizeBytes": built.size_bytes,
        "buildSeconds": round(built.seconds, 2),
        "modelName": model.name,
        "modelVersion": model.version,
        "runId": model.run_id,
        "droppedRequirements": assembled.dropped,
        "digest": None,
        "reference": None,
    }
    if opts.get("prove", True):
        checked = proof.prove(built.image_id, model.path, proof_rows(ctx, model.path), cfg.image.ready_timeout_seconds)
        outputs["proof"] = checked.outputs()
        if not checked.passed:
            if checked.log_tail:
                log.raw("the container's last log lines:\n" + "\n".join(checked.log_tail))
            return StepResult("failed", f"{repository}:{tag} not pushed: {checked.message}", outputs)
        log.info(f"proof: {checked.message} ({checked.seconds:.1f} s)")
    summary = f"built {repository}:{tag} ({built.size_bytes / 1e6:.0f} MB, {built.seconds:.1f} s)"
    if push:
        try:
            digest = build.push(repository, tag, built.image_id, overwrite)
        except build.TagTaken as err:
            return StepResult("failed", f"{err}; {NEVER_MOVED}", outputs)
        outputs.update(digest=digest, reference=f"{repository}@{digest}")
        summary = f"pushed {repository}@{digest} ({built.size_bytes / 1e6:.0f} MB, built in {built.seconds:.1f} s)"
    else:
        log.warn("push: false: the image stays local; deploy steps need a pushed digest")
    report = ctx.report_dir / "image.json"
    masking.write_json(report, {**outputs, "labels": assembled.labels})
    dockerfile = masking.write_text(ctx.report_dir / "Dockerfile", (work / "Dockerfile").read_text(encoding="utf-8"))
    shutil.rmtree(work / "wheels", ignore_errors=True)  # cached on the host; not a report
    return StepResult("passed", summary, outputs, [report, dockerfile, ctx.report_dir / "build.log"])
