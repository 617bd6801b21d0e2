"""Where every benchmark writes: its own section of docs/benchmarks.md, between the markers
`<!-- NAME:begin -->` and `<!-- NAME:end -->`, replaced on each run and appended on the first."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nRun on demand with `make bench`; not part of `make test`.\n\n"


def write_section(begin: str, end: str, section: str) -> None:
    """Put `section` (which starts with `begin` and ends with `end`) into docs/benchmarks.md."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
