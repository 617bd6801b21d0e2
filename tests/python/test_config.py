from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write
from mlci import config
from mlci.errors import InputError


def error_of(path: Path, overrides: dict[str, object] | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        config.load(path, overrides, params_source="params.json", param_names={"test.paths": "paths"})
    return info.value


def test_minimal_file_gets_every_default(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\n")
    loaded = config.load(path)
    assert loaded.config.model.name == "churn"
    assert loaded.config.test.command == ["python", "-m", "pytest"]
    assert loaded.config.image.base_image == "python:3.11-slim"
    assert loaded.config.monitoring.drift.psi_drift == 0.25
    assert loaded.project_dir == tmp_path


def test_wrong_type_names_file_line_and_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        """\
        model:
          name: churn
          task: classification
        validate:
          thresholds:
            accuracy:
              threshold: high
        """,
    )
    assert str(error_of(path)) == f"{path}:7 validate.thresholds.accuracy.threshold: expected a number, got 'high'"


def test_unknown_key_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\nvalidate:\n  tresholds: {}\n")
    assert str(error_of(path)) == f"{path}:5 validate.tresholds: unknown key; did you mean 'thresholds'?"


def test_unknown_top_level_section(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\nmonitor: {}\n")
    assert str(error_of(path)) == f"{path}:4 monitor: unknown key; did you mean 'monitoring'?"


def test_missing_required_key_points_at_its_parent(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "version: 1\nmodel:\n  task: regression\n")
    assert str(error_of(path)) == f"{path}:2 model.name: required key missing"


def test_missing_model_section(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "version: 1\n")
    assert str(error_of(path)) == f"{path}:1 model: required key missing"


def test_empty_file_is_missing_model(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "")
    assert "model: required key missing" in str(error_of(path))


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: [classification\n")
    message = str(error_of(path))
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "- model\n")
    assert (
        str(error_of(path)) == f"{path}:1 (top level): not an mlci config: expected a mapping of sections, got a list"
    )


def test_duplicate_keys_are_errors_not_last_one_wins(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\n  name: b\n")
    assert str(error_of(path)) == f"{path}:4 model.name: duplicate key (first at line 2)"


def test_literal_gets_choices_and_hint(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: clasification\n")
    assert str(error_of(path)) == (
        f"{path}:3 model.task: expected one of 'classification' or 'regression', got 'clasification'; "
        "did you mean 'classification'?"
    )


def test_strict_types_reject_quoted_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        "model:\n  name: a\n  task: regression\nvalidate:\n  thresholds:\n    rmse:\n      threshold: '0.5'\n",
    )
    assert "expected a number, got '0.5'" in str(error_of(path))


def test_union_mismatch_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\ntraining:\n  params:\n    lr: [1]\n")
    err = error_of(path)
    assert (
        str(err) == f"{path}:6 training.params.lr: expected a string, an integer, a number or true or false, got a list"
    )
    assert err.details == []


def test_every_error_is_reported_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        """\
        model:
          name: a
          task: nope
        test:
          paths: tests
        deploy:
          - name: prod
            type: ansible
            environment: prod
        """,
    )
    err = error_of(path)
    lines = [str(err), *err.details]
    assert [line.split(" ")[0] for line in lines] == [f"{path}:3", f"{path}:5", f"{path}:9"]
    assert lines[2].startswith(f"{path}:9 deploy[0].environment: expected one of 'staging' or 'production'")


def test_validator_message_is_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        "model:\n  name: a\n  task: regression\nvalidate:\n  thresholds:\n    rmse:\n      greater_is_better: false\n",
    )
    assert str(error_of(path)) == (
        f"{path}:6 validate.thresholds.rmse: set at least one of threshold, min_absolute_change, min_relative_change"
    )


def test_duplicate_deploy_targets(tmp_path: Path) -> None:
    target = "  - {name: web, type: ansible, environment: staging}\n"
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\ndeploy:\n" + target + target)
    assert "deploy target names must be unique; repeated: web" in str(error_of(path))


def test_missing_file(tmp_path: Path) -> None:
    message = str(error_of(tmp_path / "nope.yml"))
    assert message.startswith(f"{tmp_path / 'nope.yml'}: not found")


def test_precedence_defaults_file_params(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\ntest:\n  paths: [from-file]\n")
    assert config.load(path).config.test.paths == ["from-file"]
    assert config.load(path, {"test.paths": ["from-params"]}).config.test.paths == ["from-params"]
    assert config.load(path).config.test.timeout_minutes == 30  # the built-in default
    assert config.load(path, {"test.timeout_minutes": 2}).config.test.timeout_minutes == 2


def test_override_creates_missing_sections(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\n")
    loaded = config.load(path, {"pipeline.continuous_deployment": True})
    assert loaded.config.pipeline.continuous_deployment is True


def test_bad_override_names_the_param_not_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: regression\n")
    assert str(error_of(path, {"test.paths": []})) == (
        "params.json paths (test.paths): list should have at least 1 item after validation, not 0, got a list"
    )


def test_show_redacts_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        """\
        model: {name: a, task: regression}
        mlflow: {tracking_uri: "https://bot:hunter22@mlflow.example:5000"}
        training:
          params: {api_token: abc123, depth: 3}
        """,
    )
    shown = config.effective(config.load(path))
    assert shown["mlflow"]["tracking_uri"] == "https://bot:****@mlflow.example:5000"
    assert shown["training"]["params"] == {"api_token": "****", "depth": 3}
    assert "validate" in shown and "validate_" not in shown


def test_json_schema_is_closed_and_complete() -> None:
    schema = config.json_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["model"]
    assert {"model", "data", "training", "validate", "image", "deploy", "monitoring", "pipeline"} <= set(
        schema["properties"]
    )


# Values from the metric itself (an RMSE of 1e6 is possible) are bounded only by being finite.
METRIC_VALUES = {"MetricThreshold": {"threshold", "min_absolute_change"}, "SliceCheck": {"min", "max", "max_gap"}}


def test_every_numeric_key_has_an_upper_bound() -> None:
    unbounded = []
    for name, model in config.json_schema()["$defs"].items():
        for key, prop in model.get("properties", {}).items():
            kinds = [prop, *prop.get("anyOf", []), prop.get("items", {})]
            numeric = [k for k in kinds if k.get("type") in ("number", "integer")]
            if key in METRIC_VALUES.get(name, set()) or name == "TrainingConfig":
                continue
            if any("maximum" not in k and "exclusiveMaximum" not in k for k in numeric):
                unbounded.append(f"{name}.{key}")
    assert unbounded == []


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "validate:\n  latency_rows: 10000000000000000000000000000000000000000",
            "validate.latency_rows: input should be less than or equal to 1000000",
        ),
        (
            "validate:\n  thresholds: {accuracy: {threshold: .nan}}",
            "validate.thresholds.accuracy.threshold: input should be a finite number, got nan",
        ),
        (
            "validate:\n  slices: [{column: a, metric: b, min: -.inf}]",
            "validate.slices[0].min: input should be a finite number, got -inf",
        ),
        ("test:\n  timeout_minutes: .inf", "test.timeout_minutes: input should be a finite number, got inf"),
        (
            "deploy:\n  - {name: s, type: ansible, environment: staging, smoke: {timeout_seconds: .nan}}",
            "deploy[0].smoke.timeout_seconds: input should be a finite number",
        ),
    ],
)
def test_out_of_bounds_and_non_finite_values_are_refused(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\n" + yaml_text + "\n")
    assert message in str(error_of(path))


def test_non_finite_values_from_params_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: churn\n  task: classification\n")
    err = error_of(path, {"test.timeout_minutes": float("inf")})
    assert "test.timeout_minutes" in str(err) and "finite number" in str(err)


def test_did_you_mean_inside_lists_and_maps(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mlci.yml",
        """\
        model: {name: churn, task: classification}
        deploy:
          - name: s
            type: ansible
            environment: staging
            stratgy: canary
        validate:
          thresholds:
            accuracy: {treshold: 0.8}
        """,
    )
    err = error_of(path)
    assert str(err) == f"{path}:6 deploy[0].stratgy: unknown key; did you mean 'strategy'?"
    assert err.details == [f"{path}:9 validate.thresholds.accuracy.treshold: unknown key; did you mean 'threshold'?"]


@pytest.mark.parametrize(
    "content",
    [
        "root:x:0:0:s3cr3t-value:/root:/bin/bash\n",
        "- s3cr3t-value\n",
        "root: s3cr3t-value\nadmin: {pw: s3cr3t-value}\n",
    ],
    ids=["passwd-like", "list", "mapping"],
)
def test_a_file_that_is_no_config_is_never_echoed(tmp_path: Path, content: str) -> None:
    path = write(tmp_path / "passwd", content)
    err = error_of(path)
    assert "not an mlci config" in str(err)
    shown = " ".join([str(err), *err.details]).replace(str(path), "FILE")
    assert "s3cr3t" not in shown and "root" not in shown


def test_the_system_password_file_is_never_echoed(tmp_path: Path) -> None:
    err = error_of(Path("/etc/passwd"))
    assert "not an mlci config" in str(err) and "root" not in str(err) and not err.details


def _thresholds(tmp_path: Path, task: str, body: str) -> Path:
    return write(tmp_path / ".mlci.yml", f"model:\n  name: a\n  task: {task}\nvalidate:\n{body}")


def test_metric_direction_is_known_not_defaulted(tmp_path: Path) -> None:
    body = "  thresholds:\n    root_mean_squared_error:\n      min_relative_change: 0.0\n"
    t = config.load(_thresholds(tmp_path, "regression", body)).config.validate_.thresholds
    assert t["root_mean_squared_error"].greater_is_better is None  # not a silent `true`
    from mlci.gate import metrics

    assert metrics.greater_is_better("regression", "root_mean_squared_error", None) is False
    assert metrics.greater_is_better("classification", "log_loss", None) is False
    assert metrics.greater_is_better("classification", "f1_score", None) is True


def test_a_direction_contradicting_the_metric_is_refused_at_its_line(tmp_path: Path) -> None:
    body = "  thresholds:\n    mean_absolute_error:\n      threshold: 40\n      greater_is_better: true\n"
    path = _thresholds(tmp_path, "regression", body)
    assert str(error_of(path)) == (
        f"{path}:8 validate.thresholds.mean_absolute_error.greater_is_better: true contradicts "
        "mean_absolute_error, which is lower-is-better; remove the key (mlci knows the direction)"
    )


def test_a_metric_without_direction_needs_one(tmp_path: Path) -> None:
    body = "  thresholds:\n    example_count:\n      threshold: 100\n"
    path = _thresholds(tmp_path, "regression", body)
    assert str(error_of(path)) == (
        f"{path}:6 validate.thresholds.example_count: example_count has no better direction (rows evaluated): "
        "set greater_is_better"
    )
    write(path, path.read_text() + "      greater_is_better: true\n")
    assert config.load(path).config.validate_.thresholds["example_count"].greater_is_better is True


def test_unknown_metric_names_are_refused_at_load_with_did_you_mean(tmp_path: Path) -> None:
    body = (
        "  thresholds:\n    root_mean_square_error:\n      threshold: 40\n"
        "    accuracy_score:\n      threshold: 0.8\n"
        "  slices:\n    - {column: g, metric: r2}\n"
    )
    path = _thresholds(tmp_path, "regression", body)
    err = error_of(path)
    assert str(err).startswith(
        f"{path}:6 validate.thresholds.root_mean_square_error: the evaluation computes no metric "
        "'root_mean_square_error' for regression; did you mean 'root_mean_squared_error'? (it computes: "
    )
    assert err.details[0].startswith(
        f"{path}:8 validate.thresholds.accuracy_score: the evaluation computes no metric 'accuracy_score' "
        "for regression; 'accuracy_score' is a classification metric and model.task is regression"
    )
    assert err.details[1] == (
        f"{path}:11 validate.slices[0].metric: no per-slice metric 'r2' for regression; did you mean 'r2_score'? "
        "(one of root_mean_squared_error, mean_squared_error, mean_absolute_error, max_error, r2_score)"
    )


def test_abbreviated_metric_names_get_the_full_name() -> None:
    from mlci.gate import metrics

    problem = metrics.threshold_problem("regression", "rmse", None)
    assert problem and "'rmse' for regression; did you mean 'root_mean_squared_error'?" in problem[1]
    assert "did you mean 'accuracy_score'?" in (metrics.slice_problem("classification", "accuracy") or "")
    assert "did you mean" not in (metrics.slice_problem("classification", "auc") or "x")  # not per slice


def test_threshold_params_are_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path / ".mlci.yml", "model:\n  name: a\n  task: classification\n")
    err = error_of(path, {"validate.thresholds": {"acuracy_score": {"threshold": 0.8}}})
    assert str(err).startswith("params.json validate.thresholds (validate.thresholds.acuracy_score): ")
    assert "did you mean 'accuracy_score'?" in str(err)


def test_per_slice_metrics_are_the_ones_slices_compute() -> None:
    from mlci.gate import checks, metrics

    for task, scorer in (("classification", checks._classification), ("regression", checks._regression)):
        assert all(scorer(name) is not None for name in metrics.per_slice(task))
        assert scorer("example_count") is None
