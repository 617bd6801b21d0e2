"""Lineage of a training run: the git commit it came from, the data it saw, the build that ran it.

The data fingerprint names each declared file by content (sha256) and shape (rows, columns
and dtypes), so "same data" can be checked without the data; its own digest is one short
string fit for a tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CHUNK = 1 << 20


@dataclass(frozen=True)
class GitState:
    commit: str | None  # None outside a git work tree
    dirty: bool | None  # tracked files changed; untracked files (data, reports) do not count


def git_state(project_dir: Path) -> GitState:
    git = shutil.which("git")
    if git is None:
        return GitState(None, None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([git, *args], cwd=project_dir, capture_output=True, text=True, timeout=60)

    head = run("rev-parse", "HEAD")
    if head.returncode != 0:
        return GitState(None, None)
    status = run("status", "--porcelain", "--untracked-files=no")
    return GitState(head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_fingerprint(name: str, path: Path, frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "path": name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "rows": len(frame),
        "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
    }


def fingerprint_digest(files: list[dict[str, Any]]) -> str:
    """One digest over every file's fingerprint, for tags and comparisons."""
    text = json.dumps(sorted(files, key=lambda f: f["path"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def build_url() -> str | None:
    return os.environ.get("BUILD_URL") or None
