"""`mlci base-image`: a Python 3.11 base image from a Debian mirror, for air-gapped sites.

mmdebstrap builds a minbase root filesystem (merged /usr, the suite's security updates, no
documentation) into a tarball, kept in a cache keyed by its inputs; the image is a `docker
import` of it. A rebuild with unchanged inputs re-imports the cached tarball (seconds), and is
a no-op when the tag already holds that tarball. `--rebuild` fetches new security updates.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mlci import log
from mlci.errors import InfrastructureError, InputError
from mlci.image import engine
from mlci.image.base_args import DEFAULT_PACKAGES

SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/merged-usr")
LABEL = "io.mlci.base.rootfs"
CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


@dataclass(frozen=True)
class Source:
    uri: str
    suite: str
    components: tuple[str, ...]

    def line(self) -> str:
        return f"deb {self.uri} {self.suite} {' '.join(self.components)}"


def _deb822(text: str) -> list[Source]:
    found: list[Source] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                found.append(Source(uri, suite, tuple(fields.get("components", "main").split())))
    return found


def _one_line(text: str) -> list[Source]:
    found: list[Source] = []
    for line in text.splitlines():
        parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(parts) >= 3 and parts[0] == "deb":
            found.append(Source(parts[1], parts[2], tuple(parts[3:]) or ("main",)))
    return found


def host_sources() -> list[Source]:
    """The Debian sources this host's apt uses (one-line and deb822 formats)."""
    found: list[Source] = []
    files = [SOURCES[0]] + (sorted(SOURCES[1].iterdir()) if SOURCES[1].is_dir() else [])
    for file in files:
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        if file.suffix == ".sources":
            found += _deb822(text)
        elif file.suffix == ".list" or file == SOURCES[0]:
            found += _one_line(text)
    # Only Debian's own archive: third-party repositories have no business in a base image.
    return [s for s in found if "debian" in s.uri]


def sources(mirror: str | None, suite: str | None) -> list[Source]:
    host = host_sources()
    if mirror is None:
        if not host:
            raise InputError(f"no Debian mirror in {SOURCES[0]} or {SOURCES[1]}; pass --mirror URL")
        chosen = [s for s in host if suite is None or s.suite.split("-")[0] == suite]
        if not chosen:
            raise InputError(f"no source for suite {suite!r} in the host's apt sources; pass --mirror URL")
        return chosen
    base = suite or (host[0].suite.split("-")[0] if host else "bookworm")
    uri = mirror.rstrip("/")
    return [
        Source(uri, base, ("main",)),
        Source(uri, f"{base}-updates", ("main",)),
        Source(f"{uri}-security", f"{base}-security", ("main",)),
    ]


def mmdebstrap_argv(chosen: list[Source], packages: tuple[str, ...], target: Path) -> list[str]:
    exe = shutil.which("mmdebstrap")
    if exe is None:
        raise InputError("mmdebstrap not found on PATH; install the Debian package mmdebstrap")
    suite = chosen[0].suite.split("-")[0]
    argv = [
        exe,
        "--variant=minbase",
        f"--include={','.join(packages)}",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/info/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--quiet",
    ]
    if MERGED_USR_HOOK.is_dir():
        argv.append(f"--hook-dir={MERGED_USR_HOOK}")
    return [*argv, suite, str(target), *(s.line() for s in chosen)]


def cache_key(chosen: list[Source], packages: tuple[str, ...]) -> str:
    text = json.dumps({"sources": [s.line() for s in chosen], "packages": packages, "variant": "minbase-nodoc"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rootfs(cache_dir: Path, chosen: list[Source], packages: tuple[str, ...], rebuild: bool) -> tuple[Path, str]:
    """The cached rootfs tarball for these inputs, built first when missing (or asked)."""
    key = cache_key(chosen, packages)
    tarball = cache_dir / f"rootfs-{key}.tar"
    if tarball.is_file() and not rebuild:
        log.info(f"reusing the cached root filesystem {tarball}")
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial.tar")
        argv = mmdebstrap_argv(chosen, packages, partial)
        log.info(f"building a minbase root filesystem from {', '.join(s.line() for s in chosen)}")
        started = time.monotonic()
        with log.Status("mmdebstrap"):
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            partial.unlink(missing_ok=True)
            log.raw(proc.stderr[-4000:])
            raise InfrastructureError(f"Debian mirror ({chosen[0].uri})", f"mmdebstrap exited {proc.returncode}")
        partial.replace(tarball)
        log.info(f"root filesystem built in {time.monotonic() - started:.1f} s ({tarball.stat().st_size >> 20} MiB)")
    digest = hashlib.sha256()
    with tarball.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return tarball, digest.hexdigest()


def ensure(
    tag: str, cache_dir: Path, mirror: str | None = None, suite: str | None = None, rebuild: bool = False
) -> str:
    """Make `tag` hold the base image; return its image ID."""
    chosen = sources(mirror, suite)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Two builds on one agent share the cache: one builds and imports, the other then reuses.
    with (cache_dir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(f"another process is building the base image in {cache_dir}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(tag, cache_dir, chosen, rebuild)


def _ensure(tag: str, cache_dir: Path, chosen: list[Source], rebuild: bool) -> str:
    from docker.errors import APIError, ImageNotFound

    tarball, sha = rootfs(cache_dir, chosen, DEFAULT_PACKAGES, rebuild)
    dc = engine.client()
    try:
        current = dc.images.get(tag)
        if current.labels.get(LABEL) == sha:
            log.info(f"{tag} is up to date ({current.id[:19]})")
            return str(current.id)
    except ImageNotFound:
        pass
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "latest")
    started = time.monotonic()
    try:
        with log.Status(f"importing {tag}"):
            dc.api.import_image_from_file(
                str(tarball), repository=repository, tag=version, changes=[*CHANGES, f"LABEL {LABEL}={sha}"]
            )
        image = dc.images.get(tag)
    except APIError as err:
        raise InfrastructureError(engine.service(), f"import of {tarball} failed: {err.explanation or err}") from None
    log.info(f"imported {tag} ({image.id[:19]}) in {time.monotonic() - started:.1f} s")
    return str(image.id)


def main(args: argparse.Namespace) -> int:
    image_id = ensure(args.tag, Path(args.cache_dir), args.mirror, args.suite, args.rebuild)
    print(json.dumps({"tag": args.tag, "id": image_id}))
    return 0
