"""`mlci base-image`'s flags. Imports nothing heavy: `mlci --help` builds this parser."""

from __future__ import annotations

import argparse

DEFAULT_TAG = "mlci/python:3.11-bookworm"
DEFAULT_PACKAGES = ("python3", "python3-venv", "ca-certificates")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", default=DEFAULT_TAG, help=f"image tag to create (default {DEFAULT_TAG})")
    parser.add_argument(
        "--mirror",
        metavar="URL",
        help="Debian mirror (default: the first one in /etc/apt/sources.list*); its -security suite is used too",
    )
    parser.add_argument("--suite", help="Debian suite (default: the one of the mirror in /etc/apt/sources.list*)")
    parser.add_argument(
        "--cache-dir",
        default=".cache/base-image",
        metavar="DIR",
        help="keeps the rootfs tarball: a rebuild with the same inputs is a re-import (default .cache/base-image)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="ignore the cached rootfs (e.g. for new security updates)"
    )
