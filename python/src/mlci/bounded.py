"""Bounds on what mlci parses from a user's files: size, nesting depth and YAML alias expansion.

A `.mlci.yml` of nested anchors ("billion laughs") expands to 10^9 nodes from 1 KB, and YAML or
JSON nested a few thousand levels deep overflows the parsers' recursion. Both are refused here,
before anything builds the document, with the file and line (exit 2), in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlci.errors import InputError

MAX_DEPTH = 64  # no mlci file nests deeper than about 8; 64 leaves room for `vars` and patches
MAX_YAML_NODES = 100_000  # after alias expansion; a large .mlci.yml has a few hundred
MAX_CONFIG_BYTES = 1 << 20
MAX_JSON_BYTES = 64 << 20  # expectation suites with large value sets, drift references


def read_text(path: Path, source: str, max_bytes: int) -> str:
    """The file's UTF-8 text; too large or not UTF-8 is bad input naming the file (and line).
    OSErrors (not found, a directory, no permission) are the caller's to word."""
    if path.stat().st_size > max_bytes:
        raise InputError(f"{source}: {path.stat().st_size} bytes, more than the {max_bytes} mlci reads")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"{source}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8"
        ) from None


def check_yaml(text: str, source: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH or expanding (through aliases) to more than
    MAX_YAML_NODES nodes. Reads the event stream, which PyYAML produces without recursion; YAML
    syntax errors propagate as PyYAML raises them."""
    import yaml

    heights: dict[str, int] = {}  # anchor -> height of the anchored node
    sizes: dict[str, int] = {}  # anchor -> nodes it expands to
    stack: list[list[Any]] = []  # open collections: [anchor, nodes before it, tallest child]
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 0
        height = 0
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor or ""
            height, total = heights.get(anchor, 1), total + sizes.get(anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            height, total = 1, total + 1
            if event.anchor:
                heights[event.anchor], sizes[event.anchor] = 1, 1
        elif isinstance(event, yaml.CollectionStartEvent):
            total += 1
            stack.append([event.anchor, total, 0])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start, tallest = stack.pop()
            height = tallest + 1
            if anchor:
                heights[anchor], sizes[anchor] = height, total - start + 1
        if stack and height:
            stack[-1][2] = max(stack[-1][2], height)
        if len(stack) + (height if isinstance(event, yaml.AliasEvent) else 0) > MAX_DEPTH:
            raise InputError(f"{source}:{line}: nested more than {MAX_DEPTH} levels deep")
        if total > MAX_YAML_NODES:
            raise InputError(
                f"{source}:{line}: expands to more than {MAX_YAML_NODES} values"
                + (" through aliases (*name)" if sizes else "")
            )


def _depth_line(text: str) -> int:
    """The line where `text` (JSON) first nests deeper than MAX_DEPTH."""
    depth, line, in_string, escaped = 0, 1, False, False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif char in "]}":
            depth -= 1
    return line


def _too_deep(data: Any) -> bool:
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)
    return False


def json_loads(text: str, source: str, what: str = "") -> Any:
    """JSON from a user's file; invalid or nested deeper than MAX_DEPTH is bad input at its line.
    `what` names the document in messages (" in the expectation suite")."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source}:{err.lineno} invalid JSON{what}: {err.msg}") from None
    except RecursionError:
        data = None
    else:
        if not _too_deep(data):
            return data
    raise InputError(f"{source}:{_depth_line(text)} JSON{what} nested more than {MAX_DEPTH} levels deep")
