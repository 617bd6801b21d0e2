"""`mlci serve` settings: flags over environment variables over defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.serving import settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_are_safe_for_a_laptop() -> None:
    s = settings.from_args(parse(), {})
    assert s.model_dir == Path("/opt/ml/model")
    assert s.host == "127.0.0.1"
    assert (s.port, s.max_body_bytes, s.drain_seconds, s.capture_dir) == (8080, 10 * 1024 * 1024, 2.0, None)
    assert (s.max_inflight_bytes, s.read_timeout_seconds) == (64 * 1024 * 1024, 30.0)


def test_flags_win_over_the_environment() -> None:
    env = {"MLCI_PORT": "9000", "MLCI_HOST": "0.0.0.0", "MLCI_CAPTURE_RATE": "0.25"}  # noqa: S104
    s = settings.from_args(parse("--port", "9100"), env)
    assert (s.port, s.host, s.capture_rate) == (9100, "0.0.0.0", 0.25)  # noqa: S104


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(InputError, match="MLCI_TIMEOUT_SECONDS: expected float, got 'soon'"):
        settings.from_args(parse(), {"MLCI_TIMEOUT_SECONDS": "soon"})
