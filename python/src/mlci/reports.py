"""Reports shared by the steps: JUnit XML (read and write) and a small self-contained HTML page."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci import masking


@dataclass(frozen=True)
class JUnitCounts:
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def junit_counts(path: Path) -> JUnitCounts:
    """Totals over every <testsuite> in a JUnit XML file (root <testsuites> or <testsuite>)."""
    # Our own report file, written by the pytest we just ran; expat here refuses entity expansion.
    root = ET.parse(path).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    return JUnitCounts(**totals)


@dataclass(frozen=True)
class Check:
    """One gate check: a JUnit testcase, a row in the HTML and Markdown reports."""

    name: str
    passed: bool
    message: str = ""  # one line: what was observed against what was required
    details: str = ""  # longer text for the failure body
    seconds: float = 0.0


# Characters XML 1.0 cannot carry at all, even escaped; a column name may hold them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return XML_ILLEGAL.sub("\ufffd", text)


def write_junit(path: Path, suite: str, checks: Sequence[Check]) -> Path:
    """One <testcase> per check, failures carrying their message; Jenkins' JUnit plugin reads it."""
    checks = [Check(_xml(c.name), c.passed, _xml(c.message), _xml(c.details), c.seconds) for c in checks]
    failures = sum(not c.passed for c in checks)
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failures))
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(checks)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(c.seconds for c in checks):.3f}",
    )
    for check in checks:
        case = ET.SubElement(suite_el, "testcase", classname=suite, name=check.name, time=f"{check.seconds:.3f}")
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.message)
            failure.text = check.details or check.message
        elif check.message:
            ET.SubElement(case, "system-out").text = check.message
    return masking.write_xml(path, root)


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.pass{color:#11772b;font-weight:600}.fail{color:#b3261e;font-weight:600}.warn{color:#9a6700;font-weight:600}
code{background:#f4f4f4;padding:0 .2em}
"""


def html_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An HTML table; cell text is escaped, except cells given as `Markup`."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """Text already in HTML (a status badge, an inline SVG plot): not escaped again."""


def status(passed: bool) -> Markup:
    return Markup('<span class="pass">passed</span>' if passed else '<span class="fail">FAILED</span>')


def _cell(value: object) -> str:
    return value if isinstance(value, Markup) else html.escape(str(value))


def escape(value: object) -> str:
    """Text for HTML: every value from data, config or a model (a column named
    `<script>...`) is escaped where it is put into a page."""
    return html.escape(str(value))


def code(value: object) -> Markup:
    return Markup(f"<code>{escape(value)}</code>")


def md(value: object) -> str:
    """Text for a Markdown report (a pull-request comment renders inline HTML): tags become
    entities, table pipes and newlines cannot break a row, backticks cannot open a code span."""
    text = " ".join(str(value).split())
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("`", "&#96;")):
        text = text.replace(char, entity)
    return text.replace("|", "\\|")


def md_code(value: object) -> str:
    """A Markdown code span, or escaped plain text when the value holds what a span cannot
    carry safely (inside a span entities show literally)."""
    text = str(value)
    plain = not any(c in text for c in "<>&`|\n\r")
    return f"`{text}`" if plain else md(text)


CSS = "mlci-report.css"


def write_html(path: Path, title: str, body: str) -> Path:
    """A page with its stylesheet in a file beside it, and no script. Jenkins serves archived
    and published reports with `Content-Security-Policy: sandbox; default-src 'none';
    img-src 'self'; style-src 'self'`, which blocks an inline `<style>` (and `style=`
    attributes) but lets a stylesheet from the same place load."""
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<link rel="stylesheet" href="{CSS}"></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n'
    )
    masking.write_text(path.parent / CSS, STYLE.lstrip())
    return masking.write_text(path, page)


def with_assets(paths: Sequence[Path]) -> list[Path]:
    """The report files and the stylesheets their pages need, each once (for the archive)."""
    out: list[Path] = []
    for path in paths:
        for item in (path, path.parent / CSS):
            if item not in out and (item == path or (path.suffix == ".html" and item.exists())):
                out.append(item)
    return out
