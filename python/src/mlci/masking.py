"""Secret masking: the one place that decides what a secret looks like in text, used by every
log line, result, report and stage log mlci writes, and by the filter over child output.

Masked: the value of every credential variable in the catalog (`_common.json`) in the forms a
program prints it (raw, URL-encoded, HTML/XML- and JSON-escaped, base64, and the base64 of
`user:password` that Basic auth sends); the password in any URL's userinfo, and that password
wherever else it appears once mlci has seen the URL; `Bearer` and `Basic` header values and
`Authorization` headers quoted by a server; PEM private keys.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, quote_plus, unquote

MASK = "****"
MIN_SECRET = 3  # shorter values would mask ordinary text ("a", "1")
EXCERPT_CHARS = 200
DRAIN_SECONDS = 10

# userinfo is everything between `scheme://` and the last `@` before the host; the password
# may hold `@` or `:` (unencoded, as users paste it).
URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/?#@\s]*):(?P<pw>[^/?#\s]*)@", re.I)
BEARER = re.compile(r"\b(?P<kind>Bearer)(?P<sep>\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")
BASIC = re.compile(r"\b(?P<kind>Basic)(?P<sep>\s+)(?P<value>[A-Za-z0-9+/]{4,}={0,2})")
# A quoted header: its scheme and credential ("Authorization: Basic dXNlcjpwdw==").
AUTH_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>[^'\"\s,;}<]+(?:[ \t]+[^'\"\s,;}<]+)?)",
    re.I,
)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)
TAGS = re.compile(r"<[^>]{0,200}>")

_lock = threading.Lock()
_learned: set[str] = set()  # passwords seen in URLs (config, params), masked everywhere after


def _catalog_env() -> tuple[list[str], list[tuple[str, str]]]:
    """Every credential variable, and the (user, password) variable pairs of Basic-auth ones."""
    from mlci import contracts

    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    for cred in contracts.credential_catalog().values():
        names += cred.env.values()
        if "usernameVariable" in cred.env and "passwordVariable" in cred.env:
            pairs.append((cred.env["usernameVariable"], cred.env["passwordVariable"]))
    return names, pairs


def _b64(text: str) -> list[str]:
    raw = text.encode()
    forms = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return forms + [f.rstrip("=") for f in forms]


def _forms(value: str) -> set[str]:
    """The ways a program may print `value`."""
    out = {value, quote(value, safe=""), quote_plus(value), html.escape(value), json.dumps(value)[1:-1]}
    out.add(html.escape(json.dumps(value)[1:-1]))
    out.update(_b64(value))
    return out


def learn(data: Any) -> None:
    """Remember the passwords in every URL inside `data` (config, params), so they are masked
    also where they appear without their URL (a resolver's error, a decoded header)."""
    for text in _strings(data):
        for found in URL_USERINFO.finditer(text):
            user, pw = found["user"], found["pw"]
            if len(pw) >= MIN_SECRET:
                with _lock:
                    _learned.update({pw, unquote(pw)})
                    _learned.update(_b64(f"{unquote(user)}:{unquote(pw)}"))


def forget() -> None:
    """Drop learned passwords (tests run many steps in one process)."""
    with _lock:
        _learned.clear()


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from _strings(value)


def secret_values() -> list[str]:
    """Every masked literal, longest first so a secret containing another is masked whole."""
    names, pairs = _catalog_env()
    values: set[str] = set()
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= MIN_SECRET:
            values |= _forms(value)
    for user_var, pw_var in pairs:
        user, pw = os.environ.get(user_var), os.environ.get(pw_var)
        if user and pw:
            values.update(_b64(f"{user}:{pw}"))
    # A URL with a password in an env variable mlci reads (MLFLOW_TRACKING_URI...).
    for value in os.environ.values():
        if "://" in value and "@" in value:
            for found in URL_USERINFO.finditer(value):
                if len(found["pw"]) >= MIN_SECRET:
                    values |= _forms(found["pw"]) | _forms(unquote(found["pw"]))
    with _lock:
        values |= _learned
    return sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True)


def _basic(match: re.Match[str]) -> str:
    # "Basic <base64 of user:password>"; "Basic auth" in prose stays.
    try:
        decoded = base64.b64decode(match["value"] + "=" * (-len(match["value"]) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return f"{match['kind']}{match['sep']}{MASK}" if b":" in decoded else match[0]


def _bearer(match: re.Match[str]) -> str:
    # A token has a digit or a symbol; "Bearer tokenless" in prose stays.
    if re.search(r"[0-9._~+/=-]", match["value"]):
        return f"{match['kind']}{match['sep']}{MASK}"
    return match[0]


def redact(text: str) -> str:
    """`text` with every secret masked."""
    for value in secret_values():
        text = text.replace(value, MASK)
    text = URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = AUTH_HEADER.sub(lambda m: f"{m['name']}{MASK}", text)
    text = BASIC.sub(_basic, text)
    text = BEARER.sub(_bearer, text)
    return PRIVATE_KEY.sub(MASK, text)


def redact_data(data: Any) -> Any:
    """`redact` over every string value inside JSON-like data; keys are the document's structure
    (a masked `summary` key would hide the summary from its reader) and stay."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v) for v in data]
    return data


def redact_xml(root: ET.Element) -> ET.Element:
    """`redact` over every text and attribute value of an XML tree, in place; tag and attribute
    names are markup and stay, so the file still parses whatever a secret's value is."""
    for element in root.iter():
        element.text = redact(element.text) if element.text else element.text
        element.tail = redact(element.tail) if element.tail else element.tail
        for key, value in element.attrib.items():
            element.attrib[key] = redact(value)
    return root


def excerpt(body: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """What a message may quote of a server's answer: one line, tags dropped, short, masked.
    A server's error page can quote the request (its Authorization header); never copy it whole."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(TAGS.sub(" ", text).split())
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _write(path: Path, text: str) -> Path:
    # Written beside and renamed, so a reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write a report or log file mlci produces, masked: the one writer they all use."""
    return _write(path, redact(text))


def write_json(path: Path, data: Any, indent: int | None = 2) -> Path:
    """A JSON report or result, its string values masked before they are escaped."""
    return _write(path, json.dumps(redact_data(data), indent=indent) + "\n")


def write_xml(path: Path, root: ET.Element) -> Path:
    """An XML report (JUnit), its text and attribute values masked."""
    return _write(path, ET.tostring(redact_xml(root), encoding="unicode", xml_declaration=True))


def mask_file(path: Path) -> None:
    """Mask an XML report another program wrote for mlci to archive (pytest's JUnit XML)."""
    if not path.is_file():
        return
    try:
        # The pytest we just ran wrote it; expat refuses entity expansion.
        root = ET.parse(path).getroot()  # noqa: S314
    except ET.ParseError:
        text = path.read_text(encoding="utf-8", errors="replace")
        if redact(text) != text:
            write_text(path, text)
        return
    write_xml(path, root)


def copy_masked(source: IO[bytes], sink: IO[str] | None, write_line: Any = None) -> None:
    """Copy a child's output line by line, masked, to `sink` (a file) or `write_line` (the log)."""
    for raw in iter(source.readline, b""):
        line = redact(raw.decode("utf-8", "replace"))
        if sink is not None:
            sink.write(line)
            sink.flush()
        else:
            write_line(line)


@contextmanager
def masked_pipe(sink: IO[str] | None, write_line: Any = None) -> Iterator[int]:
    """A file descriptor for a child's stdout and stderr whose every line reaches `sink` (or
    `write_line`) masked; the copy finishes before the block ends."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    thread = threading.Thread(target=copy_masked, args=(reader, sink, write_line), daemon=True)
    thread.start()
    try:
        yield write_fd
    finally:
        os.close(write_fd)  # the child holds its own copy; EOF comes when it exits
        # A grandchild that outlives the child (a daemon it started) keeps the pipe open: stop
        # waiting for its output after a while rather than hang the step.
        thread.join(timeout=DRAIN_SECONDS)
        if not thread.is_alive():
            reader.close()


class MaskedStream:
    """A text stream (sys.stderr, sys.stdout) whose output is masked line by line: what mlflow,
    warnings or a library print inside the mlci process passes the same masking as log lines."""

    def __init__(self, inner: IO[str]) -> None:
        self._inner = inner
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        # Whole lines (and progress bars' \r-ended frames) go out; a partial line waits.
        cut = max(self._buffer.rfind("\n"), self._buffer.rfind("\r"))
        if cut >= 0:
            self._inner.write(redact(self._buffer[: cut + 1]))
            self._buffer = self._buffer[cut + 1 :]
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._buffer:
            self._inner.write(redact(self._buffer))
            self._buffer = ""
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
