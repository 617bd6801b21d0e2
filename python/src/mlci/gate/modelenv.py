"""Which Python a model is evaluated in: mlci's own, or a virtualenv built from the model's requirements.

MLflow logs a model's pip requirements (`requirements.txt`) and Python version (`python_env.yaml`)
with it. `validate.env_manager: uv` builds a virtualenv from them with uv, cached under
`$MLCI_CACHE_DIR/envs/<hash>` and reused by every later build that needs the same set. Unset,
mlci's own Python is used when it meets the model's requirements, else the isolated env; the
decision is made per model, so the champion may run in another env than the candidate.

"Meets" means: every requirement is installed, and for the frameworks that serialise the model
itself (FRAMEWORKS: scikit-learn, LightGBM, XGBoost, ...) the installed version satisfies the
pin. Other pins (numpy, pandas, cloudpickle...) only need the package installed: their minor
versions rarely change a prediction, and demanding them exactly would build an env for nearly
every model trained outside mlci's Python.

In the isolated env, a small worker (`modelenv_worker.py`) loads the model with
`mlflow.pyfunc` and predicts; mlci sees it as a PyFuncModel whose implementation forwards
`predict` (and a scikit-learn model's `predict_proba`) to the worker, so evaluation, metrics,
slices and budgets run in mlci's process exactly as for a local model.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from mlci import log
from mlci.errors import InfrastructureError, InputError
from mlci.gate import modelenv_worker as wire
from mlci.image.context import cache_dir
from mlci.programs import installed

WORKER = Path(wire.__file__)
WORKER_PROTOCOL = "1"  # part of the cache key: a new worker protocol never reuses an old env
MLFLOW_NAMES = ("mlflow", "mlflow-skinny", "mlflow-tracing")
FRAMEWORKS = (
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "catboost",
    "onnx",
    "onnxruntime",
    "torch",
    "tensorflow",
    "keras",
    "statsmodels",
    "prophet",
    "transformers",
    "sentence-transformers",
    "spacy",
)


@dataclass(frozen=True)
class Requirements:
    file: Path
    lines: list[str]  # as logged, comments and blank lines dropped
    python: str  # major.minor the model was logged with (python_env.yaml), else mlci's own


def read_requirements(model_dir: Path) -> Requirements:
    file = model_dir / "requirements.txt"
    if not file.is_file():
        raise InputError(f"{file.name} of the model: not found; log the model with MLflow 2 or later")
    lines = [ln.split(" #", 1)[0].strip() for ln in file.read_text(encoding="utf-8").splitlines()]
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    env_file = model_dir / "python_env.yaml"
    if env_file.is_file():
        try:
            declared = (yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}).get("python")
        except (yaml.YAMLError, AttributeError):
            declared = None
        if declared:
            python = ".".join(str(declared).split(".")[:2])
    return Requirements(file, [ln for ln in lines if ln and not ln.startswith("#")], python)


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def unmet(reqs: Requirements) -> list[str]:
    """The model's requirements mlci's Python does not meet, each with the reason."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if reqs.python != running:
        out.append(f"Python {reqs.python} (mlci runs {running})")
    for line in reqs.lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(f"{line} (not a plain requirement; cannot be checked)")
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = _canonical(req.name)
        if name in MLFLOW_NAMES:
            continue  # both environments run mlci's own mlflow
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(f"{line} (not installed)")
            continue
        if name in FRAMEWORKS and req.specifier and not req.specifier.contains(installed, prereleases=True):
            out.append(f"{line} ({installed} installed)")
    return out


def _mlflow_version() -> str:
    from importlib import metadata

    for name in ("mlflow", "mlflow-skinny"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    raise InputError("mlflow is not installed in mlci's Python; install mlci with its `all` extra")


def env_requirements(reqs: Requirements) -> list[str]:
    """What the env installs: the model's requirements with mlflow replaced by mlci's own
    version (the worker speaks to it) and pandas added when missing (the worker needs it)."""
    from packaging.requirements import InvalidRequirement, Requirement

    out, names = [], set()
    for line in reqs.lines:
        try:
            name = _canonical(Requirement(line).name)
        except InvalidRequirement:
            out.append(line)
            continue
        if name not in MLFLOW_NAMES:
            out.append(line)
            names.add(name)
    out.append(f"mlflow-skinny=={_mlflow_version()}")
    if "pandas" not in names:
        out.append("pandas")
    return out


def env_key(installs: list[str], python: str) -> str:
    data = json.dumps([installs, python, platform.machine(), sys.platform, WORKER_PROTOCOL])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _uv_failure(proc: subprocess.CompletedProcess[str], doing: str, reqs: Requirements) -> Exception:
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    log.raw(tail)
    last = " ".join(proc.stderr.strip().splitlines()[-1:])[:300] if proc.stderr.strip() else f"exit {proc.returncode}"
    if "No solution found" in proc.stderr or "not found in the package registry" in proc.stderr:
        return InputError(f"the model's {reqs.file.name} cannot be installed ({doing}): {last}")
    return InfrastructureError("package index (uv)", f"{doing} failed: {last}")


def ensure_env(reqs: Requirements, what: str) -> Path:
    """The Python of the cached env for these requirements, built first when missing."""
    installs = env_requirements(reqs)
    key = env_key(installs, reqs.python)
    root = cache_dir() / "envs"
    final = root / key
    python = final / "bin" / "python"
    if (final / ".complete").is_file() and python.exists():
        log.info(f"{what}: reusing the environment {final}")
        return python
    uv = installed("uv")
    if uv is None:
        raise InfrastructureError(
            "uv",
            f"not found beside {sys.executable} nor on PATH; {what} needs an environment built from "
            "its requirements (install mlci with its `all` extra, or set validate.env_manager: local)",
        )
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(final, ignore_errors=True)  # incomplete, or its base interpreter is gone
    partial = root / f"{key}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    interpreter = sys.executable if reqs.python == f"{sys.version_info.major}.{sys.version_info.minor}" else reqs.python
    log.info(f"{what}: building an environment from its {reqs.file.name} (Python {reqs.python}) in {final}")

    def uv_run(status: str, doing: str, *args: str) -> None:
        with log.Status(f"uv: {status} for {what}"):
            proc = subprocess.run([uv, *args], cwd=root, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise _uv_failure(proc, doing, reqs)

    try:
        uv_run(
            "creating the environment",
            f"creating a Python {reqs.python} virtualenv",
            *("venv", "--quiet", "--relocatable", "--python", interpreter, str(partial)),
        )
        listing = partial / "mlci-requirements.txt"
        listing.write_text("\n".join(installs) + "\n", encoding="utf-8")
        uv_run(
            f"installing {len(installs)} requirements",
            "installing the model's requirements",
            *("pip", "install", "--quiet", "--python", str(partial / "bin" / "python"), "-r", str(listing)),
        )
        seconds = round(time.monotonic() - started, 1)
        (partial / ".complete").write_text(json.dumps({"requirements": installs, "seconds": seconds}) + "\n")
        try:
            partial.rename(final)
        except OSError:
            if not (final / ".complete").is_file():  # not a concurrent build that won the race
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info(f"{what}: environment built in {seconds} s")
    return python


class Worker:
    """One model loaded in its env's Python, answering requests until closed."""

    def __init__(self, python: Path, model_dir: Path, workdir: Path, what: str) -> None:
        self.what = what
        self.workdir = workdir
        self.calls = 0
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr = workdir / "worker.log"
        self._log: IO[bytes] = self.stderr.open("wb")
        self.proc = subprocess.Popen(
            [str(python), "-I", str(WORKER), str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=workdir,
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # never: both are pipes
            raise InfrastructureError("model environment", f"no pipes to the worker for {what}")
        self._in: IO[str] = self.proc.stdin
        self._out: IO[str] = self.proc.stdout
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        line = self._out.readline()
        if not line:
            code = self.proc.wait(timeout=30)
            tail = " | ".join(self.stderr.read_text(errors="replace").strip().splitlines()[-5:])[:500]
            if code == -signal.SIGKILL:  # the kernel's OOM killer, or an operator: not the model's doing
                raise InfrastructureError(
                    "model environment", f"the worker for {self.what} was killed (SIGKILL: out of memory?): {tail}"
                )
            # The model's own code or native libraries ended the process (a crash, an exit).
            raise InputError(f"{self.what}: the model's worker process exited ({code}) evaluating it: {tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, op: str, *data: Any, **extra: Any) -> dict[str, Any]:
        self.calls += 1
        inputs = [self.workdir / f"in-{self.calls}-{i}.json" for i in range(len(data))]
        for path, value in zip(inputs, data, strict=True):
            wire.write(str(path), value)
        request = {"op": op, "inputs": [str(p) for p in inputs], "output": str(self.output()), **extra}
        self._in.write(json.dumps(request) + "\n")
        self._in.flush()
        answer = self._answer()
        for path in inputs:
            path.unlink(missing_ok=True)
        if not answer["ok"]:
            raise _error(answer)
        return answer

    def output(self) -> Path:
        return self.workdir / f"out-{self.calls}.json"

    def predict(self, *data: Any, raw: str | None = None) -> Any:
        self.call("predict", *data, raw=raw)
        try:
            return wire.read(str(self.output()))
        finally:
            self.output().unlink(missing_ok=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            self._in.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._log.close()


def _error(answer: dict[str, Any]) -> Exception:
    """The worker's failure as the exception type the gate's own handling expects."""
    kind, message = str(answer.get("type")), str(answer.get("message"))
    if kind == "MlflowException":
        from mlflow.exceptions import MlflowException

        return MlflowException(message)
    builtin = {"KeyError": KeyError, "ValueError": ValueError, "TypeError": TypeError}.get(kind)
    if builtin is not None:
        return builtin(message)
    return RuntimeError(f"{kind}: {message}")


class _RawModel:
    """A scikit-learn model's own methods, in the worker (MLflow's evaluator calls them)."""

    # Set only when the model has them: MLflow (and mlci's column selection) look with getattr.
    predict_proba: Any
    score: Any
    feature_names_in_: Any

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        if worker.ready.get("feature_names") is not None:
            import numpy as np

            self.feature_names_in_ = np.asarray(worker.ready["feature_names"], dtype=object)
        if "predict_proba" in worker.ready["raw"]:
            self.predict_proba = lambda data: worker.predict(data, raw="predict_proba")
        if "score" in worker.ready["raw"]:
            self.score = self._score

    def _score(self, x: Any, y: Any, sample_weight: Any = None) -> Any:
        weights = () if sample_weight is None else (sample_weight,)
        return self._worker.predict(x, y, *weights, raw="score")

    def predict(self, data: Any) -> Any:
        return self._worker.predict(data, raw="predict")


class _Remote:
    """The `_model_impl` of a PyFuncModel whose predictions come from the worker."""

    def __init__(self, worker: Worker, loader: str) -> None:
        self.worker = worker
        self._raw = _RawModel(worker) if loader == "mlflow.sklearn" and "predict" in worker.ready["raw"] else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.worker.predict(data)

    def get_raw_model(self) -> Any:
        return self._raw if self._raw is not None else self


def remote_timings(model: Any, batch: Any, repeats: int) -> list[float] | None:
    """Predict times measured inside the model's env (no transfer cost), or None for a local model."""
    impl = getattr(model, "_model_impl", None)
    if not isinstance(impl, _Remote):
        return None
    times: list[float] = impl.worker.call("time", batch, repeats=repeats)["times_ms"]
    return times


@dataclass
class Loaded:
    """A model ready to predict: in this process, or a proxy to its worker."""

    model: Any  # mlflow.pyfunc.PyFuncModel, or _Remote
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class Downloaded:
    uri: str
    path: Path
    size_bytes: int  # what the size budget applies to
    seconds: float


def download(uri: str, workdir: Path) -> Downloaded:
    """The model's artifacts, once (evaluation and the size budget use the same copy)."""
    import mlflow

    started = time.monotonic()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(workdir)))
    size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    return Downloaded(uri, local, size, time.monotonic() - started)


def _missing_module(err: ModuleNotFoundError, uri: str, what: str, where: str, hint: str) -> InputError:
    return InputError(f"{what} {uri} cannot be loaded in {where}: no module named {err.name!r}; {hint}")


def load(model: Downloaded, env_manager: str | None, what: str) -> Loaded:
    """Choose the model's Python (see the module doc) and load it there."""
    import mlflow

    started = time.monotonic() - model.seconds
    has_reqs = (model.path / "requirements.txt").is_file()
    reqs = read_requirements(model.path) if has_reqs or env_manager == "uv" else None
    missing = unmet(reqs) if reqs is not None else []
    if reqs is None or env_manager == "local" or (env_manager is None and not missing):
        if missing:
            log.warn(f"{what}: mlci's Python does not meet {', '.join(missing)} (validate.env_manager: local)")
        elif env_manager is None:
            log.info(f"{what}: mlci's Python meets the model's requirements; evaluating it there")
        try:
            loaded = mlflow.pyfunc.load_model(str(model.path))
        except ModuleNotFoundError as err:
            raise _missing_module(
                err,
                model.uri,
                what,
                "mlci's Python (validate.env_manager: local)",
                "install it there, or unset validate.env_manager to evaluate the model in an environment "
                "built from its requirements",
            ) from None
        return Loaded(loaded, model.size_bytes, time.monotonic() - started)
    reason = "validate.env_manager: uv" if env_manager == "uv" else f"mlci's Python does not meet {', '.join(missing)}"
    log.info(f"{what}: evaluating it in an isolated environment ({reason})")
    worker = Worker(ensure_env(reqs, what), model.path, model.path.parent / "worker", what)
    if not worker.ready["ok"]:
        worker.close()
        if worker.ready.get("type") == "ModuleNotFoundError":
            absent = ModuleNotFoundError(name=worker.ready.get("module"))
            hint = f"add it to the model's requirements ({reqs.file.name}: pip_requirements when logging it)"
            raise _missing_module(
                absent, model.uri, what, "the environment built from its requirements", hint
            ) from None
        raise RuntimeError(f"{worker.ready.get('type')}: {worker.ready.get('message')}")
    from mlflow.models import Model
    from mlflow.pyfunc import PyFuncModel

    meta = Model.load(str(model.path / "MLmodel"))
    loader = str(meta.flavors.get("python_function", {}).get("loader_module", ""))
    proxy = PyFuncModel(model_meta=meta, model_impl=_Remote(worker, loader), model_id=meta.model_id)
    weakref.finalize(proxy, worker.close)  # the worker lives as long as the model it stands for
    return Loaded(proxy, model.size_bytes, time.monotonic() - started)
