from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from conftest import REPO
from mlci import config, contracts
from mlci.errors import InputError


def config_field_exists(dotted: str) -> bool:
    model: Any = config.Config
    for part in dotted.split("."):
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        if part not in fields:
            return False
        model = fields[part].annotation
    return True


@pytest.mark.parametrize("step", contracts.step_names())
def test_contract_is_complete_and_consistent(step: str) -> None:
    c = contracts.load(step)
    assert c.step == step and c.command and c.summary and c.description
    for p in c.params.values():
        assert p.type in contracts.PARAM_TYPES, p.name
        assert p.description, p.name
        assert p.scope in {"cli", "groovy"}
        assert p.config is None or config_field_exists(p.config), f"{step}.{p.name} -> {p.config}"
        assert p.items is None or p.type == "list"
        assert p.format is None or (p.format in contracts.FORMATS and p.type == "string")
        assert not p.name.endswith("CredentialsId"), "credential IDs belong in `credentials`"
    for cred in c.credentials.values():
        assert cred.name.endswith("CredentialsId")
    assert c.outputs


def test_every_step_has_a_var_help_and_doc() -> None:
    for step in contracts.step_names():
        assert (REPO / "vars" / f"{step}.groovy").is_file(), step
        assert (REPO / "vars" / f"{step}.txt").is_file(), step
        assert (REPO / "docs" / "steps" / f"{step}.md").is_file(), step


def test_package_contracts_are_the_resources_groovy_reads() -> None:
    resources = REPO / "resources" / "io" / "mlci" / "contracts"
    for path in resources.glob("*.json"):
        assert json.loads((contracts.CONTRACTS_DIR / path.name).read_text()) == json.loads(path.read_text())


def test_credential_catalog_env_names() -> None:
    catalog = contracts.credential_catalog()
    assert catalog["mlflowCredentialsId"].env == {
        "usernameVariable": "MLFLOW_TRACKING_USERNAME",
        "passwordVariable": "MLFLOW_TRACKING_PASSWORD",
    }
    assert catalog["mlflowTokenCredentialsId"].env == {"variable": "MLFLOW_TRACKING_TOKEN"}


def test_validate_splits_overrides_and_options() -> None:
    c = contracts.load("mlTest")
    checked = contracts.validate(c, {"paths": ["t"], "verbose": True, "failOnError": False}, "p.json")
    assert checked.overrides == {"test.paths": ["t"]}
    assert checked.options == {"configFile": ".mlci.yml", "verbose": True}  # groovy-scope keys never reach a step


def test_unknown_param_with_hint() -> None:
    with pytest.raises(InputError, match=r"^p.json pahts: unknown parameter of mlTest; did you mean 'paths'\?$"):
        contracts.validate(contracts.load("mlTest"), {"pahts": ["t"]}, "p.json")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"paths": "tests"}, "p.json paths: expected a list, got 'tests'"),
        ({"paths": ["a", 3]}, "p.json paths[1]: expected a string, got 3"),
        ({"testTimeoutMinutes": True}, "p.json testTimeoutMinutes: expected a number, got true"),
        ({"verbose": "yes"}, "p.json verbose: expected true or false, got 'yes'"),
        ({"configFile": None}, "p.json configFile: expected a string, got null"),
    ],
)
def test_param_types(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        contracts.validate(contracts.load("mlTest"), params, "p.json")
    assert str(info.value) == message


def test_every_error_is_kept() -> None:
    with pytest.raises(InputError) as info:
        contracts.validate(contracts.load("mlTest"), {"x": 1, "y": 2}, "p.json")
    assert len(info.value.details) == 1


def test_unknown_step() -> None:
    with pytest.raises(InputError, match="no step named 'mlTset'; did you mean 'mlTest'"):
        contracts.load("mlTset")


def test_schema_classes_are_closed() -> None:
    def walk(model: type[BaseModel]) -> None:
        assert model.model_config.get("extra") == "forbid", model.__name__

    for cls in vars(config).values():
        if isinstance(cls, type) and issubclass(cls, config.Section):
            walk(cls)
