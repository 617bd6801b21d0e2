"""The build context of a model image: wheels, requirements, the model and the Dockerfile.

Wheels are fetched on the host (which has the package index) into a cache keyed by the
requirement set, so the image build itself installs offline (`--no-index`) and a new model
version with unchanged requirements reuses the same wheels, byte for byte, and with them the
dependency layer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci import __version__, log
from mlci.errors import InfrastructureError, InputError
from mlci.image.source import ModelSource
from mlci.programs import installed

VENV = "/opt/mlci/venv"
MODEL_DIR = "/opt/ml/model"
PORT = 8080
USER = "10001:10001"
SYSTEM_PACKAGES = "system-packages.txt"
# A model logged with full mlflow needs only the skinny client to be served.
MLFLOW_PIN = re.compile(r"^mlflow(\[[^]]*\])?\s*(?P<spec>[=<>!~].*)?$", re.IGNORECASE)
PYTHON_TAG = "3.11"
FIXED_MTIME = 1580601600  # 2020-02-02, the timestamp wheel builds use
# Packages only mlflow's client imports (model loading through mlflow.pyfunc, tracking).
CLIENT_ONLY = ("mlflow", "databricks", "opentelemetry", "google", "git", "fastapi", "starlette")
# Requirements MLflow infers from what the training process had imported that serving never
# needs: test runners and notebook/lint tooling (scikit-learn imports pytest only when it is
# installed). `skops` is kept only for a model saved in the skops format (any flavor).
DEV_ONLY = re.compile(r"^(pytest(-.+)?|coverage|hypothesis|mypy|ruff|black|flake8|pylint|ipython|ipykernel|jupyter.*)$")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Requirements:
    kept: list[str]
    dropped: list[str]  # in the model's requirements.txt, not installed in the image


def cache_dir() -> Path:
    return Path(os.environ.get("MLCI_CACHE_DIR") or Path.home() / ".cache" / "mlci")


def _name(requirement: str) -> str:
    match = REQUIREMENT_NAME.match(requirement)
    return re.sub(r"[._-]+", "-", match[1]).lower() if match else requirement


def serving_only(requirements: list[str], model_dir: Path) -> Requirements:
    """Split the model's requirements into what serving needs and test/dev-only packages."""
    from mlci.serving.model import read_mlmodel

    # scikit-learn and LightGBM (and any flavor MLflow gives the option) may save in skops.
    flavors = read_mlmodel(model_dir).get("flavors", {}).values()
    needs_skops = any(isinstance(f, dict) and f.get("serialization_format") == "skops" for f in flavors) or any(
        model_dir.rglob("*.skops")
    )
    kept: list[str] = []
    dropped: list[str] = []
    for req in requirements:
        name = _name(req)
        unused = DEV_ONLY.match(name) or (name == "skops" and not needs_skops)
        (dropped if unused else kept).append(req)
    return Requirements(kept, dropped)


def model_requirements(model_dir: Path) -> list[str]:
    """The model's pip requirements (from its MLflow environment), mlflow swapped for mlflow-skinny."""
    file = model_dir / "requirements.txt"
    if not file.is_file():
        raise InputError(f"{file}: the model has no requirements.txt; log it with MLflow 2 or later")
    out: list[str] = []
    for raw in file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise InputError(f"{file}: pip option {line!r} is not supported in an offline image build")
        match = MLFLOW_PIN.match(line)
        if match:
            line = f"mlflow-skinny{match['spec'] or ''}"
        out.append(line)
    return out


def serving_requirements() -> list[str]:
    """What mlci's server needs (its own dependencies and the serve extra), as pinned by mlci."""
    from importlib import metadata

    out = []
    for req in metadata.requires("mlci") or []:
        spec, _, marker = req.partition(";")
        if not marker.strip() or re.search(r"extra\s*==\s*['\"]serve['\"]", marker):
            out.append(spec.strip())
    return out


def _pip() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        exe = installed(name)
        if exe:
            return [exe]
    raise InputError("no pip found (needed to fetch wheels on the host); install pip or put it on PATH")


def _platforms() -> list[str]:
    machine = platform.machine()
    return [f"manylinux_2_{v}_{machine}" for v in range(36, 16, -1)] + [f"manylinux2014_{machine}"]


def mlci_wheel() -> Path:
    """A wheel of this mlci: built from the source tree (cached by its content), else taken
    from the package index like any other requirement."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "mlci").is_dir():
        raise InputError(f"mlci {__version__} is not installed from a source tree; set MLCI_PIP_INDEX_URL")
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes())
    for file in sorted((root / "src" / "mlci").rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    out = cache_dir() / "mlci-wheel" / digest.hexdigest()[:16]
    wheels = sorted(out.glob("mlci-*.whl"))
    if wheels:
        return wheels[0]
    uv = installed("uv")
    argv = (
        [uv, "build", "--wheel", "--out-dir", str(out), str(root)]
        if uv
        else [*_pip(), "wheel", "--no-deps", "-w", str(out), str(root)]
    )
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wheels = sorted(out.glob("mlci-*.whl"))
    if proc.returncode != 0 or not wheels:
        log.raw(proc.stderr[-3000:])
        raise InfrastructureError("package build", f"building the mlci wheel failed (exit {proc.returncode})")
    return wheels[0]


def wheels(requirements: list[str]) -> Path:
    """A folder of third-party wheels for exactly these requirements (cached by the set)."""
    key = hashlib.sha256(json.dumps([requirements, _platforms()]).encode()).hexdigest()[:16]
    folder = cache_dir() / "wheels" / key
    if (folder / ".complete").is_file():
        log.info(f"reusing wheels for {len(requirements)} requirements from {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    argv = [
        *_pip(),
        "download",
        "--quiet",
        "--only-binary=:all:",
        f"--python-version={PYTHON_TAG}",
        "--implementation=cp",
        *(f"--platform={p}" for p in _platforms()),
        "--dest",
        str(folder),
        *requirements,
    ]
    log.info(f"fetching wheels for: {' '.join(requirements)}")
    with log.Status("pip download"):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        tail = [ln for ln in proc.stderr.splitlines() if "is ignored: it is neither" not in ln][-15:]
        log.raw("\n".join(tail))
        if "No matching distribution" in proc.stderr or "Could not find a version" in proc.stderr:
            raise InputError(f"no wheel for one of the model's requirements ({', '.join(requirements)}); see the log")
        raise InfrastructureError("package index", f"pip download exited {proc.returncode}; see the log")
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (folder / ".complete").write_text("", encoding="utf-8")
    return folder


def labels(model: ModelSource, base_image: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": model.name,
        "org.opencontainers.image.version": model.version or model.run_id[:12],
        "org.opencontainers.image.revision": model.git_commit,
        "org.opencontainers.image.base.name": base_image,
        "io.mlci.model.name": model.name,
        "io.mlci.model.version": model.version,
        "io.mlci.model.run_id": model.run_id,
        "io.mlci.model.uri": model.uri,
        "io.mlci.git.commit": model.git_commit,
        "io.mlci.data.fingerprint": model.data_fingerprint,
        "io.mlci.version": __version__,
    }


def lean_bytecode(model_dir: Path) -> bool:
    """True when the server will load the model without importing mlflow (a pickled
    scikit-learn model): then mlflow's client stack is never imported and its bytecode can go."""
    from mlci.serving.model import read_mlmodel

    mlmodel = read_mlmodel(model_dir)
    sk = mlmodel["flavors"].get("sklearn") or {}
    return (
        mlmodel["flavors"]["python_function"].get("loader_module") == "mlflow.sklearn"
        and sk.get("serialization_format") in ("cloudpickle", "pickle")
        and not sk.get("code")
    )


def system_layer(packages: Sequence[str]) -> str:
    """The apt install of `image.system_packages`: one cached layer, keyed by the package list
    file (sorted, so the same set hits the cache). The names reach apt through that file, never
    the shell. Packages come from the base image's own apt sources: for an `mlci base-image`,
    the Debian mirror mmdebstrap built it from (an air-gapped site's local mirror), so they
    match the base's libraries."""
    if not packages:
        return ""
    return f"""\
# System packages (image.system_packages), from the base image's own apt sources.
COPY {SYSTEM_PACKAGES} /tmp/{SYSTEM_PACKAGES}
RUN apt-get update \\
 && xargs --arg-file=/tmp/{SYSTEM_PACKAGES} env DEBIAN_FRONTEND=noninteractive \\
      apt-get install --yes --no-install-recommends \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/* /tmp/{SYSTEM_PACKAGES}
"""


def dockerfile(
    base_image: str, model: ModelSource, image_labels: dict[str, str], lean: bool, system_packages: Sequence[str] = ()
) -> str:
    """Two stages: dependencies (cached while the requirements stay the same), then mlci's own
    code and the model, each a small layer of its own."""
    env = {
        "MLCI_MODEL_NAME": model.name,
        "MLCI_MODEL_VERSION": model.version,
        "MLCI_MODEL_RUN_ID": model.run_id,
    }
    label_lines = " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in image_labels.items())
    env_lines = " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in env.items())
    health = (
        "import sys,urllib.request;"
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{PORT}/readyz',timeout=2).status==200 else 1)"
    )
    site = f"{VENV}/lib/python{PYTHON_TAG}/site-packages"
    unused = " ".join(f"{site}/{p}" for p in CLIENT_ONLY)
    # A pickled scikit-learn model is served without importing mlflow: its client stack's
    # bytecode (tens of MB) is never read, so only its sources stay.
    lean_line = f" \\\n && find {unused} -name '*.pyc' -delete" if lean else ""
    return f"""\
# Generated by mlci {__version__}. Dependencies first: a new model version with the same
# requirements rebuilds only the model layer. Wheels come from the build context (--no-index).
FROM {base_image} AS deps
COPY wheels/ /tmp/wheels/
RUN python3 -m venv {VENV} \\
 && {VENV}/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \\
 && {VENV}/bin/pip uninstall --yes --quiet setuptools pip \\
 && find {VENV} -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {{}} + \\
 && find {VENV} -type f \\( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' -o -name '*.h' -o -name '*.c' \\) \\
      -delete{lean_line} \\
 && rm -rf /tmp/wheels

FROM {base_image}
{system_layer(system_packages)}ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    HOME=/tmp \\
    MLCI_HOST=0.0.0.0 \\
    MLCI_PORT={PORT} \\
    MLCI_MODEL_DIR={MODEL_DIR}
COPY --from=deps {VENV} {VENV}
USER {USER}
EXPOSE {PORT}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\
  CMD ["python3", "-c", "{health}"]
ENTRYPOINT ["python3", "-m", "mlci.cli", "serve"]
# mlci's own code (from its wheel), apart from the dependencies: upgrading it rebuilds this layer only.
COPY mlci/ {site}/
COPY model/ {MODEL_DIR}/
ENV {env_lines}
LABEL {label_lines}
"""


def unpack_wheel(wheel: Path, target: Path) -> None:
    """The wheel's files as pip would place them in site-packages (a pure-Python wheel)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            dest = (target / name).resolve()
            if not dest.is_relative_to(target.resolve()):
                raise InputError(f"{wheel}: unsafe path {name!r} in the wheel")
        zf.extractall(target)
    # Fixed times: the classic builder's cache key covers file metadata, and the same wheel must
    # give the same layer on every build.
    for path in [target, *target.rglob("*")]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)


def world_readable(root: Path) -> None:
    """Modes set explicitly, whatever the agent's umask: the classic builder copies them into
    the image, root-owned, and under umask 0027 (Jenkins run from Tomcat) files would be 0640
    and unreadable to the image's non-root user. Directories and executables 0755, files 0644."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        want = 0o755 if path.is_dir() or mode & 0o100 else 0o644
        if mode & 0o7777 != want:  # hard-linked cached wheels are usually right already
            path.chmod(want)


@dataclass(frozen=True)
class Assembled:
    labels: dict[str, str]
    dropped: list[str]  # the model's requirements left out of the image


def assemble(ctx_dir: Path, model: ModelSource, base_image: str, system_packages: Sequence[str] = ()) -> Assembled:
    """Fill `ctx_dir` (wheels, mlci, model, Dockerfile); return the image labels."""
    wanted = serving_only(model_requirements(model.path), model.path)
    if wanted.dropped:
        log.info(f"not installed in the image (test/dev only): {', '.join(wanted.dropped)}")
    requirements = list(dict.fromkeys(serving_requirements() + wanted.kept))
    wheel_dir = wheels(requirements)
    target = ctx_dir / "wheels"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file in wheel_dir.iterdir():
        if file.name != ".complete":
            # Hard links keep mtimes and bytes: the daemon's cache sees the same files.
            try:
                os.link(file, target / file.name)
            except OSError:
                shutil.copy2(file, target / file.name)
    unpack_wheel(mlci_wheel(), ctx_dir / "mlci")
    if model.path.resolve() != (ctx_dir / "model").resolve():
        shutil.rmtree(ctx_dir / "model", ignore_errors=True)
        shutil.copytree(model.path, ctx_dir / "model")
    image_labels = labels(model, base_image)
    text = dockerfile(base_image, model, image_labels, lean_bytecode(ctx_dir / "model"), system_packages)
    (ctx_dir / "Dockerfile").write_text(text, encoding="utf-8")
    (ctx_dir / ".dockerignore").write_text("**/__pycache__\n", encoding="utf-8")
    (ctx_dir / SYSTEM_PACKAGES).write_text("".join(f"{p}\n" for p in sorted(set(system_packages))), encoding="utf-8")
    world_readable(ctx_dir)
    return Assembled(image_labels, wanted.dropped)
