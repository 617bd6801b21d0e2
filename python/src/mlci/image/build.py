"""Build a model image with the docker SDK and push it; deploys reference it by digest."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import log, masking
from mlci.errors import InfrastructureError, InputError
from mlci.image import engine

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
UNKNOWN_PACKAGE = re.compile(r"E: Unable to locate package (\S+)")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # apt colours its `E:` when it thinks a terminal reads it


def unknown_package(output: str) -> str | None:
    """The system package apt could not find, from a build's output."""
    found = UNKNOWN_PACKAGE.search(COLOUR.sub("", output))
    return found[1] if found else None


@dataclass(frozen=True)
class Built:
    image_id: str
    tag: str
    seconds: float
    size_bytes: int
    cached_steps: int
    steps: int


class TagTaken(Exception):
    """The registry already holds the tag with another digest."""

    def __init__(self, ref: str, digest: str) -> None:
        super().__init__(f"{ref} already exists with digest {digest}")
        self.digest = digest


def build(ctx_dir: Path, tag: str, log_file: Path) -> Built:
    from docker.errors import APIError, BuildError

    dc = engine.client()
    started = time.monotonic()
    steps = cached = 0
    image_id = ""
    lines: list[str] = []
    try:
        with log.Status(f"building {tag}"):
            for chunk in dc.api.build(path=str(ctx_dir), tag=tag, rm=True, forcerm=True, decode=True, pull=False):
                if "error" in chunk:
                    lines.append(chunk["error"])
                    raise BuildError(chunk["error"].strip(), lines)
                text = chunk.get("stream", "")
                if not text:
                    aux = chunk.get("aux") or {}
                    image_id = aux.get("ID", image_id)
                    continue
                lines.append(text)
                for line in text.splitlines():
                    match = STEP.match(line.strip())
                    if match:
                        steps = int(match[2])
                        log.info(f"build step {match[1]}/{match[2]}: {match[3][:100]}")
                    elif line.strip() == "---> Using cache":
                        cached += 1
    except BuildError as err:
        masking.write_text(log_file, "".join(lines))
        tail = "".join(lines[-20:])
        log.raw(tail)
        if unknown := unknown_package("".join(lines)):
            raise InputError(
                f"image.system_packages: {unknown}: no such package in the base image's apt sources"
                f" (full log: {log_file})"
            ) from None
        raise InfrastructureError(engine.service(), f"image build failed: {err.msg} (full log: {log_file})") from None
    except APIError as err:
        masking.write_text(log_file, "".join(lines))
        raise InfrastructureError(engine.service(), f"image build failed: {err.explanation or err}") from None
    masking.write_text(log_file, "".join(lines))
    image = dc.images.get(tag)
    seconds = time.monotonic() - started
    log.info(
        f"built {tag} ({image.id[:19]}, {image.attrs['Size'] / 1e6:.0f} MB) in {seconds:.1f} s, {cached} steps cached"
    )
    return Built(image.id, tag, seconds, int(image.attrs["Size"]), cached, steps)


def auth_config() -> dict[str, str] | None:
    """Registry credentials from the credential catalog's env names, else the docker config."""
    user, password = os.environ.get("MLCI_REGISTRY_USERNAME"), os.environ.get("MLCI_REGISTRY_PASSWORD")
    if user and password:
        return {"username": user, "password": password}
    return None  # the SDK falls back to ~/.docker/config.json (DOCKER_CONFIG)


def remote_digest(ref: str) -> str | None:
    """The digest the registry holds for `ref`, or None when the tag does not exist."""
    from docker.errors import APIError, NotFound

    dc = engine.client()
    try:
        data = dc.api.inspect_distribution(ref, auth_config=auth_config())
    except NotFound:
        return None
    except APIError as err:
        text = str(err.explanation or err).lower()
        if "manifest unknown" in text or "not found" in text or "name unknown" in text:
            return None
        raise InfrastructureError(
            f"registry ({ref.split('/')[0]})", f"cannot inspect {ref}: {err.explanation or err}"
        ) from None
    digest: str = data["Descriptor"]["digest"]
    return digest


def local_digests(image_id: str, repository: str) -> set[str]:
    image = engine.client().images.get(image_id)
    return {d.split("@", 1)[1] for d in image.attrs.get("RepoDigests") or [] if d.split("@", 1)[0] == repository}


def taken(repository: str, tag: str, run_id: str, uri: str) -> TagTaken | None:
    """Before a build: the tag the registry already holds for another model, or None. A tag
    whose digest a local image of this same model carries (a rebuild on this agent) is not
    taken: the build is then mostly cached and the push re-checks the digest it gives."""
    from docker.errors import ImageNotFound

    ref = f"{repository}:{tag}"
    existing = remote_digest(ref)
    if existing is None:
        return None
    try:
        labels = engine.client().images.get(f"{repository}@{existing}").labels or {}
    except ImageNotFound:
        labels = {}
    if labels.get("io.mlci.model.run_id") == run_id and labels.get("io.mlci.model.uri") == uri:
        return None
    return TagTaken(ref, existing)


def push(repository: str, tag: str, image_id: str, overwrite: bool) -> str:
    """Push `repository:tag`; return the manifest digest. A tag the registry holds with another
    digest is refused unless `overwrite`."""
    ref = f"{repository}:{tag}"
    existing = remote_digest(ref)
    if existing and not overwrite and existing not in local_digests(image_id, repository):
        raise TagTaken(ref, existing)
    dc = engine.client()
    digest = ""
    started = time.monotonic()
    registry = repository.split("/")[0]
    seen: set[str] = set()
    try:
        with log.Status(f"pushing {ref}"):
            for chunk in dc.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth_config()):
                if "error" in chunk:
                    raise InfrastructureError(f"registry ({registry})", f"push of {ref} failed: {chunk['error']}")
                status, layer = chunk.get("status", ""), chunk.get("id", "")
                if status in ("Pushed", "Layer already exists", "Mounted from") and layer not in seen:
                    seen.add(layer)
                    log.info(f"layer {layer}: {status.lower()}")
                aux: dict[str, Any] = chunk.get("aux") or {}
                digest = aux.get("Digest", digest)
    except InfrastructureError:
        raise
    except Exception as err:  # requests' connection errors and the SDK's APIError alike
        raise InfrastructureError(f"registry ({registry})", f"push of {ref} failed: {err}") from None
    if not digest:
        raise InfrastructureError(f"registry ({registry})", f"push of {ref} returned no digest")
    log.info(f"pushed {repository}@{digest} in {time.monotonic() - started:.1f} s")
    return digest


def check_reference(repository: str, tag: str) -> None:
    if not re.fullmatch(
        r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+|[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
        repository,
    ):
        raise InputError(f"image repository {repository!r} is not a valid image name (lower case, digits, . _ - /)")
    if not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
        raise InputError(f"image tag {tag!r} is not a valid tag (letters, digits, _ . -; at most 128)")
