"""`mlci train`: the model repository's training command, inside an MLflow run mlci creates.

mlci opens the run and records lineage before the command starts (git commit and dirty
flag, a fingerprint of every declared data file, params, the command, the Jenkins build
URL), logs the drift reference of the training data, and runs the command with
`MLFLOW_RUN_ID` set. The command logs the model to that run; a run without a model fails.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import candidate, lineage, log, masking, tracking
from mlci.drift import reference
from mlci.errors import InputError, MlciError
from mlci.gate import labels
from mlci.step import StepContext, StepResult

if TYPE_CHECKING:
    from mlflow import MlflowClient

STOP_GRACE_SECONDS = 10  # SIGTERM to the training command, then SIGKILL
FINGERPRINT_ARTIFACT = "mlci/data_fingerprint.json"
MODEL_NAME = "model"  # the name the docs tell users to log under, preferred when a run logs several


def _argv(cfg: Any, project: Path) -> list[str]:
    command = cfg.training.command
    if not command:
        raise InputError("training.command: not set; add the argument list that trains the model to .mlci.yml")
    first = command[0]
    executable = str(project / first) if "/" in first else shutil.which(first)
    if executable is None or not Path(executable).exists():
        raise InputError(f"training.command: {first!r} not found {'in ' + str(project) if '/' in first else 'on PATH'}")
    flags = [
        item for name, value in cfg.training.params.items() for item in (f"--{name.replace('_', '-')}", str(value))
    ]
    return [executable, *command[1:], *flags]


def _data_files(cfg: Any) -> list[tuple[str, str]]:
    """(config key, path) of every file to fingerprint; the training file first."""
    if not cfg.data.train:
        raise InputError(
            "data.train: not set; train needs the training data file for its fingerprint and drift reference"
        )
    files = [("data.train", cfg.data.train)]
    if cfg.data.holdout:
        files.append(("data.holdout", cfg.data.holdout))
    files += [(f"training.fingerprint[{i}]", p) for i, p in enumerate(cfg.training.fingerprint)]
    return files


def _read(project: Path, key: str, rel: str) -> Any:
    from mlci.data import files

    path = project / rel
    if not path.is_file():
        raise InputError(f"{key}: {rel} not found in {project.resolve()}")
    return files.read(path)


def _logged_model(client: MlflowClient, srv: tracking.Server, experiment: str, run_id: str) -> Any:
    with tracking.guard(srv, f"looking for the model logged by run {run_id}"):
        models = client.search_logged_models(
            experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'", max_results=50
        )
    if not models:
        raise InputError(
            f"training.command finished but logged no model to MLflow run {run_id}: log one to the run in "
            "MLFLOW_RUN_ID, e.g. `with mlflow.start_run(run_id=os.environ['MLFLOW_RUN_ID']): "
            f"mlflow.sklearn.log_model(model, name={MODEL_NAME!r})`"
        )
    if len(models) == 1:
        return models[0]
    named = [m for m in models if m.name == MODEL_NAME]
    if len(named) == 1:
        return named[0]
    names = ", ".join(sorted(m.name for m in models))
    raise InputError(
        f"training.command logged {len(models)} models to run {run_id} ({names}); name the one to ship {MODEL_NAME!r}"
    )


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config
    project = ctx.project_dir
    argv = _argv(cfg, project)
    files = _data_files(cfg)
    frames = {key: (rel, _read(project, key, rel)) for key, rel in files}
    train_frame = frames["data.train"][1]
    target = cfg.model.target
    if target and target not in train_frame.columns:
        raise InputError(f"model.target: column {target!r} not in {cfg.data.train}")
    fingerprints = [lineage.file_fingerprint(rel, project / rel, frame) for rel, frame in frames.values()]
    digest = lineage.fingerprint_digest(fingerprints)
    drift_reference = reference.compute(train_frame, exclude=[target] if target else [])
    git = lineage.git_state(project)
    build_url = lineage.build_url()

    srv = tracking.server(cfg, project)
    client = tracking.connect(srv, create=True)  # a project's first run starts its store
    experiment = tracking.experiment_id(client, srv, cfg.mlflow.experiment or cfg.model.name)
    tags = {
        "mlci.command": shlex.join(argv),
        "mlci.data.fingerprint": digest,
        "mlci.model.name": cfg.model.name,
    }
    if git.commit:
        tags |= {
            "mlflow.source.git.commit": git.commit,
            "mlci.git.commit": git.commit,
            "mlci.git.dirty": str(git.dirty).lower(),
        }
    if build_url:
        tags["mlci.build_url"] = build_url
    if target and cfg.model.task == "classification":
        recorded = labels.record(train_frame[target])
        if recorded:
            tags[labels.TAG] = recorded
    with tracking.guard(srv, "creating the training run"):
        mlrun = client.create_run(experiment, tags=tags)
        run_id = mlrun.info.run_id
        for name, value in cfg.training.params.items():
            client.log_param(run_id, name, value)
        with tempfile.TemporaryDirectory(prefix="mlci-train-") as tmp:
            fp_file = Path(tmp) / Path(FINGERPRINT_ARTIFACT).name
            fp_file.write_text(json.dumps({"digest": digest, "files": fingerprints}, indent=2), encoding="utf-8")
            client.log_artifact(run_id, str(fp_file), str(Path(FINGERPRINT_ARTIFACT).parent))
            ref_file = reference.save(drift_reference, Path(tmp) / Path(reference.ARTIFACT_PATH).name)
            client.log_artifact(run_id, str(ref_file), str(Path(reference.ARTIFACT_PATH).parent))
    log.info(f"MLflow run {run_id} in experiment {experiment}; running {shlex.join(argv)} in {project.resolve()}")

    env = {**os.environ, **tracking.child_env(srv), "MLFLOW_RUN_ID": run_id, "MLFLOW_EXPERIMENT_ID": experiment}
    started = time.monotonic()
    timeout = cfg.training.timeout_minutes
    with _interruptible() as stop:
        try:
            # The command's output reaches the log (or the stage's log file) masked, like our lines.
            with masking.masked_pipe(ctx.output, log.raw) as output:
                returncode = _run_child(argv, project, env, output, timeout * 60)
        except KeyboardInterrupt:
            # Jenkins aborting the build (SIGTERM) or Ctrl-C: the child is stopped by now; the
            # run must not stay RUNNING forever, and the result says what happened.
            _end(client, srv, run_id, "KILLED")
            raise MlciError(
                f"interrupted ({stop.signal}): training stopped; MLflow run {run_id} marked KILLED"
            ) from None
    if returncode is None:
        _end(client, srv, run_id, "FAILED")
        return StepResult(
            "failed", f"training did not finish within {timeout} min (training.timeout_minutes); run {run_id}"
        )
    seconds = round(time.monotonic() - started, 2)
    if returncode != 0:
        _end(client, srv, run_id, "FAILED")
        return StepResult(
            "failed", f"training command exited {returncode} after {seconds} s (see the log); run {run_id}"
        )
    try:
        model = _logged_model(client, srv, experiment, run_id)
    except InputError:
        _end(client, srv, run_id, "FAILED")
        raise
    model_uri = f"models:/{model.model_id}"
    with tracking.guard(srv, "finishing the training run"):
        client.set_tag(run_id, "mlci.model.uri", model_uri)
        client.log_metric(run_id, "mlci_train_seconds", seconds)
    _end(client, srv, run_id, "FINISHED")
    record = candidate.record(project, run_id, model_uri, srv.tracking_uri)
    outputs = {
        "runId": run_id,
        "modelUri": model_uri,
        "experimentId": experiment,
        "gitCommit": git.commit,
        "gitDirty": git.dirty,
        "dataFingerprint": digest,
        "trainSeconds": seconds,
    }
    dirty = " (uncommitted changes)" if git.dirty else ""
    commit = (git.commit or "none")[:12]
    summary = f"trained {model_uri} in run {run_id} ({seconds} s, data {digest[:12]}, commit {commit}{dirty})"
    return StepResult("passed", summary, outputs, [record])


@dataclass
class _Stop:
    signal: str = "SIGINT"


@contextmanager
def _interruptible() -> Iterator[_Stop]:
    """SIGTERM (how Jenkins aborts a build) becomes a KeyboardInterrupt, like SIGINT, so the
    step can stop its child and close the run; a second SIGTERM while it does is ignored."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def terminate(signum: int, frame: object) -> None:
        if stop.signal == "SIGTERM":
            return
        stop.signal = "SIGTERM"
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_child(argv: list[str], project: Path, env: dict[str, str], output: Any, seconds: float) -> int | None:
    """The training command's exit code, None when it ran out of time. Its own process group:
    stopping it stops what it started (data loaders, workers) too."""
    proc = subprocess.Popen(argv, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        return None
    except BaseException:
        _stop_group(proc)
        raise


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _end(client: MlflowClient, srv: tracking.Server, run_id: str, status: str) -> None:
    with tracking.guard(srv, f"marking run {run_id} {status}"):
        client.set_terminated(run_id, status)
