"""Step contracts: the JSON files Groovy reads from `resources/`, shipped here as package data.

A contract declares a step's params (type, default, required, the `.mlci.yml` key each one
overrides), its credentials (names from the catalog in `_common.json`, each bound by Groovy to
fixed env names) and its outputs. Groovy checks keys; this module does the full validation.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import InputError

CONTRACTS_DIR = Path(__file__).parent / "contracts"
COMMON_FILE = "_common.json"

PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "map": (dict,),
}
TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "list": "a list",
    "map": "a map",
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    default: Any = None
    required: bool = False
    config: str | None = None  # dotted .mlci.yml key this param overrides
    items: str | None = None  # element type of a list param
    scope: str = "cli"  # "groovy" params are the runner's and never reach a step
    format: str | None = None  # a key of FORMATS the string must match


@dataclass(frozen=True)
class Credential:
    name: str  # the step param holding the Jenkins credential ID
    type: str  # usernamePassword | string | file | sshUserPrivateKey
    env: dict[str, str]  # withCredentials variable argument -> env name
    description: str


@dataclass(frozen=True)
class Contract:
    step: str
    command: str
    summary: str
    description: str
    params: dict[str, Param]  # the step's own params, then the common ones
    credentials: dict[str, Credential]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepParams:
    """Params validated against a contract, split by where they go."""

    overrides: dict[str, Any]  # dotted config key -> value, applied over .mlci.yml
    options: dict[str, Any]  # params that are not config keys (configFile, verbose, ...)
    given: dict[str, Any]  # everything the caller passed, for error messages


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACTS_DIR / name).read_text(encoding="utf-8"))
    return data


def _param(name: str, raw: dict[str, Any]) -> Param:
    return Param(
        name=name,
        type=raw["type"],
        description=raw["description"],
        default=raw.get("default"),
        required=raw.get("required", False),
        config=raw.get("config"),
        scope=raw.get("scope", "cli"),
        items=raw.get("items"),
        format=raw.get("format"),
    )


@functools.cache
def credential_catalog() -> dict[str, Credential]:
    raw = _read(COMMON_FILE)["credentials"]
    return {name: Credential(name, c["type"], dict(c["env"]), c["description"]) for name, c in raw.items()}


@functools.cache
def common_params() -> dict[str, Param]:
    return {name: _param(name, raw) for name, raw in _read(COMMON_FILE)["params"].items()}


@functools.cache
def step_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in CONTRACTS_DIR.glob("ml*.json")))


@functools.cache
def load(step: str) -> Contract:
    if step not in step_names():
        raise InputError(f"no step named {step!r}{did_you_mean(step, step_names())}")
    raw = _read(f"{step}.json")
    catalog = credential_catalog()
    params = {name: _param(name, p) for name, p in raw.get("params", {}).items()}
    params.update(common_params())
    return Contract(
        step=raw["step"],
        command=raw["command"],
        summary=raw["summary"],
        description=raw["description"],
        params=params,
        credentials={name: catalog[name] for name in raw.get("credentials", [])},
        outputs=raw.get("outputs", {}),
    )


def by_command(command: str) -> Contract:
    for step in step_names():
        contract = load(step)
        if contract.command == command:
            return contract
    raise InputError(f"no step runs the command {command!r}")


def did_you_mean(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


# String params that name something in MLflow: checked here, so that `abc` or `../../etc` is
# bad input (exit 2) rather than a request the server refuses (which reads as exit 3).
FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "modelVersion": (re.compile(r"[1-9][0-9]{0,9}"), "a model version number such as 3"),
    "runId": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}"), "an MLflow run id (letters, digits, _ and -)"),
}


def format_error(value: str, format_name: str) -> str | None:
    """What is wrong with `value` for FORMATS[format_name], or None when it fits."""
    pattern, wanted = FORMATS[format_name]
    return None if pattern.fullmatch(value) else f"expected {wanted}, got {describe(value)}"


def _type_ok(value: Any, type_name: str) -> bool:
    # bool is an int in Python; a JSON `true` is never a valid integer or number here.
    if isinstance(value, bool) and type_name != "boolean":
        return False
    return isinstance(value, PARAM_TYPES[type_name])


def validate(contract: Contract, given: dict[str, Any], source: str) -> StepParams:
    """Check `given` (the params file's object) against the contract; errors name `source`."""
    errors: list[str] = []
    for name in given:
        if name not in contract.params and name not in contract.credentials:
            hint = did_you_mean(name, list(contract.params) + list(contract.credentials))
            errors.append(f"{source} {name}: unknown parameter of {contract.step}{hint}")
    for name, param in contract.params.items():
        if name not in given:
            if param.required:
                errors.append(f"{source} {name}: required parameter of {contract.step} missing")
            continue
        value = given[name]
        if not _type_ok(value, param.type):
            errors.append(f"{source} {name}: expected {TYPE_NAMES[param.type]}, got {describe(value)}")
        elif param.format and (problem := format_error(value, param.format)):
            errors.append(f"{source} {name}: {problem}")
        elif param.items:
            for i, item in enumerate(value):
                if not _type_ok(item, param.items):
                    errors.append(f"{source} {name}[{i}]: expected {TYPE_NAMES[param.items]}, got {describe(item)}")
    if errors:
        raise InputError(errors[0], errors[1:])
    overrides: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, param in contract.params.items():
        if param.scope == "groovy" or (name not in given and param.default is None):
            continue
        value = given.get(name, param.default)
        if param.config:
            if name in given:
                overrides[param.config] = value
        else:
            options[name] = value
    return StepParams(overrides=overrides, options=options, given=dict(given))


def describe(value: Any) -> str:
    """A value as an error message shows it: strings quoted, containers by kind."""
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
