"""The e2e tests use the same real services as the unit tests (tests/python/services/)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

pytest_plugins: list[str] = ["services.docker_engine", "services.registry"]
