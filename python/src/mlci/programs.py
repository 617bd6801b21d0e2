"""Finding the external programs mlci starts."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def installed(name: str) -> str | None:
    """The program `name`: the one installed beside this interpreter (mlci's own venv, where its
    dependencies put uv and ansible-playbook) first, else the first on PATH. A venv that was never
    activated is not on PATH, so looking only there would miss what mlci itself installed."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)
