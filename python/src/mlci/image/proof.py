"""Prove a model image before it is pushed: run it as a deploy does, wait for ready, send rows,
and compare its predictions with the model's own, loaded in this process.

The container runs with the deploy's hardening (its non-root user, a read-only root, a tmpfs
/tmp, every capability dropped, no new privileges). Requests go through `docker exec` into
the container, so the proof needs no published port and works with a remote Docker daemon.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci import log
from mlci.errors import InfrastructureError
from mlci.image import engine
from mlci.image.context import USER

LOG_LINES = 20
# Run inside the container; the payload is argv[1], never part of a shell string.
PROBE = (
    "import os,sys,urllib.request as u\n"
    "try:\n"
    " r=u.urlopen('http://127.0.0.1:%s/readyz'%os.environ.get('MLCI_PORT','8080'),timeout=2)\n"
    " sys.exit(0 if r.status==200 else 1)\n"
    "except Exception:\n"
    " sys.exit(1)\n"
)
POST = (
    "import os,sys,urllib.request as u,urllib.error as e\n"
    "q=u.Request('http://127.0.0.1:%s/invocations'%os.environ.get('MLCI_PORT','8080'),data=sys.argv[1].encode(),"
    "headers={'Content-Type':'application/json'})\n"
    "try:\n"
    " r=u.urlopen(q,timeout=60);print(r.status);print(r.read().decode())\n"
    "except e.HTTPError as x:\n"
    " print(x.code);print(x.read().decode())\n"
)
MISSING_LIBRARY = re.compile(r"(lib[\w+.-]*?\.so(?:\.[\d.]+)?): cannot open shared object file")
# Libraries wheels commonly expect from the system, and the Debian (bookworm) package that has them.
KNOWN_PACKAGES = {
    "libgomp.so.1": "libgomp1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgfortran.so.5": "libgfortran5",
    "libquadmath.so.0": "libquadmath0",
    "libstdc++.so.6": "libstdc++6",
    "libsndfile.so.1": "libsndfile1",
    "libSM.so.6": "libsm6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libxml2.so.2": "libxml2",
    "libpq.so.5": "libpq5",
    "libzstd.so.1": "libzstd1",
    "libopenblas.so.0": "libopenblas0",
}


@dataclass
class Proof:
    passed: bool
    message: str
    rows: int = 0
    compared: bool = False  # predictions compared with the model loaded in this process
    seconds: float = 0.0
    log_tail: list[str] = field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        return {"passed": self.passed, "rows": self.rows, "compared": self.compared, "seconds": round(self.seconds, 2)}


def likely_package(library: str) -> str:
    """The Debian package that most likely ships `library` (policy: libfoo.so.N is in libfooN)."""
    if library in KNOWN_PACKAGES:
        return KNOWN_PACKAGES[library]
    stem, _, version = library.partition(".so")
    stem, version = stem.lower(), version.lstrip(".").split(".")[0]
    if not version:
        return stem
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def missing_library(text: str) -> str | None:
    """'libX is missing ... (likely package P)' when the log shows a failed shared-library load."""
    match = MISSING_LIBRARY.search(text)
    if not match:
        return None
    lib = match[1]
    return (
        f"{lib} is missing in the image; add its Debian package to image.system_packages (likely {likely_package(lib)})"
    )


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(got) and math.isnan(want))
    return bool(got == want)


def in_process(model_dir: Path, body: dict[str, Any]) -> tuple[list[Any] | None, str]:
    """The model's own predictions for `body` (MLflow's pyfunc loader, in this process), or
    None and why not (its requirements are not importable here, for one)."""
    try:
        import mlflow.pyfunc

        from mlci.serving import payload
        from mlci.serving.model import read_mlmodel, signature_columns

        columns = signature_columns(read_mlmodel(model_dir))
        parsed = payload.parse(json.dumps(body).encode(), "application/json", columns)
        model = mlflow.pyfunc.load_model(str(model_dir))
        preds = payload.predictions(model.predict(payload.conform(parsed.frame, columns)))
        return json.loads(json.dumps(preds)), ""
    except Exception as err:  # the model's own failure modes are many; the image is still run
        return None, f"{type(err).__name__}: {err}"


def _tail(container: Any) -> list[str]:
    try:
        text = container.logs(tail=LOG_LINES).decode(errors="replace")
    except Exception:  # the container may be gone already
        return []
    lines: list[str] = text.rstrip().splitlines()
    return lines


def _failed(message: str, container: Any, started: float) -> Proof:
    tail = _tail(container)
    # The library and its package when a shared object is missing; else the server's own error line.
    errors = [line.strip() for line in tail if "error" in line.lower()]
    hint = missing_library("\n".join(tail)) or (errors[-1][:300] if errors else None)
    return Proof(False, f"{message}: {hint}" if hint else message, seconds=time.monotonic() - started, log_tail=tail)


def _wait_ready(container: Any, timeout: float) -> str:
    """'' once /readyz answers 200; otherwise why not."""
    from docker.errors import APIError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            code = container.attrs.get("State", {}).get("ExitCode")
            return f"the container exited (code {code}) before it was ready"
        try:
            if container.exec_run(["python3", "-c", PROBE], user=USER).exit_code == 0:
                return ""
        except APIError as err:  # the container stopped between reload and exec: seen next round
            log.debug(f"readiness probe: {err}")
        time.sleep(0.5)
    return f"the container was not ready within {timeout:g} s (image.ready_timeout_seconds)"


def prove(image: str, model_dir: Path, body: dict[str, Any] | None, ready_timeout: float) -> Proof:
    """Run `image` as a deploy does and check it serves `body` as the model does in-process."""
    from docker.errors import APIError

    dc = engine.client()
    started = time.monotonic()
    try:
        container = dc.containers.run(
            image,
            detach=True,
            user=USER,
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},  # noqa: S108 - the container's, as deploys mount it
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            environment={"MLCI_DRAIN_SECONDS": "0"},
            labels={"io.mlci.proof": "1"},
        )
    except APIError as err:
        raise InfrastructureError(engine.service(), f"cannot start {image}: {err.explanation or err}") from None
    try:
        with log.Status(f"proving {image}"):
            return _check(container, model_dir, body, ready_timeout, started)
    finally:
        try:
            container.remove(force=True)
        except APIError:
            log.warn(f"could not remove the proof container {container.short_id}")


def _check(container: Any, model_dir: Path, body: dict[str, Any] | None, ready_timeout: float, started: float) -> Proof:
    why = _wait_ready(container, ready_timeout)
    if why:
        return _failed(why, container, started)
    log.info(f"the image is ready in {time.monotonic() - started:.1f} s, run as a deploy runs it")
    if body is None:
        return Proof(True, "ready; no holdout or input example to send", seconds=time.monotonic() - started)
    rows = len(body["dataframe_split"]["data"])
    # stdout alone: a warning the server's Python prints on stderr must not garble the answer.
    result = container.exec_run(["python3", "-c", POST, json.dumps(body)], user=USER, demux=True)
    status, _, text = (result.output[0] or b"").decode(errors="replace").partition("\n")
    if result.exit_code != 0 or status.strip() != "200":
        answer = f"HTTP {status.strip()}: {text.strip()[:300]}"
        return _failed(f"the image answered {rows} rows with {answer}", container, started)
    try:
        got = json.loads(text)["predictions"]
    except (ValueError, KeyError, TypeError):
        return _failed(f"the image's answer has no 'predictions': {text[:200]}", container, started)
    want, why = in_process(model_dir, body)
    if want is None:
        log.warn(f"predictions not compared with the model's own: it does not load in this process ({why})")
        return Proof(True, f"served {rows} rows (not compared: {why})", rows, seconds=time.monotonic() - started)
    if len(got) != len(want):
        return _failed(f"the image returned {len(got)} predictions for {rows} rows", container, started)
    wrong = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same(g, w)]
    if wrong:
        i = wrong[0]
        first = f"row {i}: image {got[i]!r}, model {want[i]!r}"
        return _failed(f"{len(wrong)} of {rows} predictions differ from the model's own ({first})", container, started)
    seconds = time.monotonic() - started
    return Proof(True, f"served {rows} rows as the model predicts them", rows, True, seconds)
