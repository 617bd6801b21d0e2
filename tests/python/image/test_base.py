"""`mlci base-image`'s inputs: the host's apt sources (both formats) and the mmdebstrap command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.image import base

DEB822 = """\
Types: deb
# a comment
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
"""


def test_deb822_sources_give_one_source_per_uri_and_suite() -> None:
    assert base._deb822(DEB822) == [
        base.Source("http://deb.debian.org/debian", "bookworm", ("main",)),
        base.Source("http://deb.debian.org/debian", "bookworm-updates", ("main",)),
        base.Source("http://deb.debian.org/debian-security", "bookworm-security", ("main", "contrib")),
    ]


def test_one_line_sources_skip_comments_options_and_deb_src() -> None:
    text = (
        "# deb http://old/debian buster main\n"
        "deb [signed-by=/k.gpg] http://mirror.local/debian bookworm main\n"
        "deb-src http://mirror.local/debian bookworm main\n"
    )
    assert base._one_line(text) == [base.Source("http://mirror.local/debian", "bookworm", ("main",))]


def test_an_explicit_mirror_brings_updates_and_security(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "host_sources", list)
    lines = [s.line() for s in base.sources("http://mirror.local/debian/", "bookworm")]
    assert lines == [
        "deb http://mirror.local/debian bookworm main",
        "deb http://mirror.local/debian bookworm-updates main",
        "deb http://mirror.local/debian-security bookworm-security main",
    ]


def test_no_mirror_anywhere_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "host_sources", list)
    with pytest.raises(InputError, match=re.escape("no Debian mirror in /etc/apt/sources.list")):
        base.sources(None, None)


def test_mmdebstrap_builds_minbase_merged_usr_without_docs(tmp_path: Path) -> None:
    chosen = base._deb822(DEB822)
    argv = base.mmdebstrap_argv(chosen, ("python3", "python3-venv"), tmp_path / "rootfs.tar")
    assert "--variant=minbase" in argv
    assert "--include=python3,python3-venv" in argv
    assert "--dpkgopt=path-exclude=/usr/share/doc/*" in argv
    assert f"--hook-dir={base.MERGED_USR_HOOK}" in argv
    assert argv[-4:] == [
        str(tmp_path / "rootfs.tar"),
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main contrib",
    ]


def test_the_cache_key_follows_the_inputs() -> None:
    chosen = base._deb822(DEB822)
    assert base.cache_key(chosen, ("python3",)) == base.cache_key(list(chosen), ("python3",))
    assert base.cache_key(chosen, ("python3",)) != base.cache_key(chosen[:1], ("python3",))
    assert base.cache_key(chosen, ("python3",)) != base.cache_key(chosen, ("python3", "curl"))
