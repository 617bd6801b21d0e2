"""`.mlci.yml`: one pydantic schema for the whole file, loading, precedence and error locations.

Precedence: built-in defaults (the schema) < `.mlci.yml` < step params. Every error names where
the bad value came from: `.mlci.yml:14 validate.thresholds.accuracy.threshold: expected a
number, got 'high'`, or the params file and the parameter that set it.
"""

from __future__ import annotations

import copy
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlci import bounded
from mlci.contracts import describe, did_you_mean
from mlci.errors import InputError

DEFAULT_FILE = ".mlci.yml"

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=128)]
Command = Annotated[list[str], Field(min_length=1)]
# Debian policy: lower case letters, digits, + - . ; at least two characters, alphanumeric first.
DebianPackage = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$", max_length=100)]

# Upper bounds of numeric keys: far above any sensible value, low enough that no step
# overflows or waits for ever on a typo (`latency_rows: 10000000000000000000000`).
HOUR_MS = 3_600_000
DAY_SECONDS = 86_400
DAY_MINUTES = 1440
WEEK_MINUTES = 7 * DAY_MINUTES
MAX_REQUESTS = 10_000_000
MAX_REPLICAS = 1000


class Section(BaseModel):
    # strict: a quoted "0.8" is not a number and `yes` in a string is not a boolean; `.nan` and
    # `.inf` are no threshold, timeout or budget.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ModelConfig(Section):
    name: Name = Field(description="Registered model name in MLflow; also names images.")
    task: Literal["classification", "regression"] = Field(
        description="What the model predicts; selects the validation metrics."
    )
    target: str | None = Field(None, description="Label column in the data files.")


class MlflowConfig(Section):
    tracking_uri: str | None = Field(None, description="MLflow tracking URI; default: the MLFLOW_TRACKING_URI env var.")
    registry_uri: str | None = Field(None, description="Model registry URI when not the tracking one.")
    experiment: str | None = Field(None, description="Experiment for training runs; default: model name.")
    timeout_seconds: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Longest wait for one MLflow request (connecting, or between bytes of an answer); "
        "an operation with its retries has a deadline of about (retries + 1) times this, a model download "
        "20 times that. Default: MLFLOW_HTTP_REQUEST_TIMEOUT, else 30.",
    )


class DataConfig(Section):
    train: str | None = Field(None, description="Training data file (CSV or Parquet).")
    holdout: str | None = Field(None, description="Holdout data file used by validation and smoke tests.")
    suite: str | None = Field(None, description="Great Expectations suite (JSON) for data validation.")
    files: list[str] = Field(
        [], description="Data files (CSV or Parquet) the suite validates; default: `data.train` and `data.holdout`."
    )
    data_docs: bool = Field(False, description="Also build Great Expectations Data Docs (about 4 MB) under reports/.")


class TestConfig(Section):
    enabled: bool = Field(True, description="Run the `test` stage.")
    command: Command = Field(
        ["python", "-m", "pytest"],
        description="Argument list that runs pytest (never a shell string); the first item is looked up on PATH.",
    )
    paths: list[str] = Field(["tests"], min_length=1, description="Test files or folders.")
    args: list[str] = Field([], description="Extra pytest arguments.")
    timeout_minutes: float = Field(30, gt=0, le=DAY_MINUTES, description="A test run longer than this fails the stage.")


Scalar = str | int | float | bool


class TrainingConfig(Section):
    command: Command | None = Field(None, description="Argument list of the training command.")
    params: dict[str, Scalar] = Field(
        {}, description="Hyperparameters, logged and passed to the command as `--name value` (`_` becomes `-`)."
    )
    fingerprint: list[str] = Field(
        [], description="More data files to fingerprint in the run, besides `data.train` and `data.holdout`."
    )
    timeout_minutes: float = Field(
        120, gt=0, le=WEEK_MINUTES, description="A training command running longer than this fails."
    )


class MetricThreshold(Section):
    """MLflow's MetricThreshold semantics."""

    threshold: float | None = Field(None, description="Absolute bound the candidate must meet.")
    min_absolute_change: float | None = Field(None, gt=0, description="Minimum gain over the champion (> 0).")
    min_relative_change: float | None = Field(
        None, ge=0, le=1, description="Minimum relative gain over the champion, 0 to 1; 0: never worse than it."
    )
    greater_is_better: bool | None = Field(
        None,
        description="Direction of the metric; known for every metric MLflow computes (see Metrics per "
        "`model.task`), so needed only for one without a direction; a contradicting value is an error.",
    )

    @model_validator(mode="after")
    def _one_bound(self) -> MetricThreshold:
        if self.threshold is None and self.min_absolute_change is None and self.min_relative_change is None:
            raise ValueError("set at least one of threshold, min_absolute_change, min_relative_change")
        return self


class SliceCheck(Section):
    column: str = Field(description="Column whose values define the slices.")
    metric: str = Field(description="Metric computed per slice.")
    min: float | None = Field(None, description="Minimum metric value in every slice.")
    max: float | None = Field(None, description="Maximum metric value in every slice (for error metrics).")
    max_gap: float | None = Field(None, ge=0, description="Maximum gap between the best and worst slice.")


class ValidateConfig(Section):
    thresholds: dict[str, MetricThreshold] = Field({}, description="Gates per metric name.")
    slices: list[SliceCheck] = Field([], description="Per-slice metric checks.")
    max_model_size_mb: float | None = Field(None, gt=0, le=1_000_000, description="Model size budget.")
    max_latency_p95_ms: float | None = Field(None, gt=0, le=HOUR_MS, description="p95 predict-time budget.")
    latency_rows: int = Field(1000, gt=0, le=1_000_000, description="Rows per predict call when measuring latency.")
    latency_repeats: int = Field(
        20, ge=5, le=10_000, description="Timed predict calls; the budget applies to their p95."
    )
    env_manager: Literal["local", "uv"] | None = Field(
        None,
        description=(
            "Python the candidate and champion are evaluated in: `local` (mlci's own) or `uv` (a virtualenv "
            "built from the model's requirements.txt and python_env.yaml, cached by their hash). Default: "
            "`local` when mlci's Python meets the model's requirements, else `uv`; decided per model."
        ),
    )


class ImageConfig(Section):
    registry: str | None = Field(None, description="Registry host[:port] to push to.")
    repository: str | None = Field(None, description="Repository in the registry; default: model name.")
    base_image: str = Field("python:3.11-slim", description="Base image of the model image.")
    system_packages: list[DebianPackage] = Field(
        [],
        description=(
            "Debian packages the model needs at run time (e.g. `libgomp1` for LightGBM), installed with apt from"
            " the base image's own sources (for an `mlci base-image`: the mirror it was built from) in a cached layer."
        ),
    )
    ready_timeout_seconds: float = Field(
        120, gt=0, description="How long the image's proof run waits for the container to be ready before a push."
    )


class DeploySlo(Section):
    min_requests: int = Field(
        50, ge=1, le=MAX_REQUESTS, description="Fewest requests a window needs; fewer never passes."
    )
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Highest share of 5xx answers.")
    max_error_rate_increase: float = Field(0.005, ge=0, le=1, description="Highest error-rate increase over stable.")
    max_p99_ms: float = Field(1000, gt=0, le=HOUR_MS, description="Absolute p99 latency SLO.")
    p99_factor: float = Field(
        1.5, ge=1, le=1000, description="Candidate p99 at most this times stable's (plus p99_slack_ms)."
    )
    p99_slack_ms: float = Field(
        25, ge=0, le=HOUR_MS, description="Added to the relative p99 limit, for very fast models."
    )


class SmokeConfig(Section):
    rows: int = Field(20, gt=0, le=100_000, description="Holdout rows sent to the live endpoint.")
    batch_rows: int = Field(5, gt=0, le=100_000, description="Rows per request.")
    max_latency_ms: float = Field(500, gt=0, le=HOUR_MS, description="Latency budget of every smoke request.")
    expected_column: str | None = Field(
        None, description="Holdout column holding the predictions the model must return (optional)."
    )
    timeout_seconds: float = Field(10, gt=0, le=3600, description="Timeout of one request.")


class KubernetesResources(Section):
    cpu_request: str = Field("250m", description="CPU the scheduler reserves per model pod.")
    memory_request: str = Field("512Mi", description="Memory the scheduler reserves per model pod.")
    cpu_limit: str | None = Field(None, description="CPU limit per pod; default none (throttling hurts latency).")
    memory_limit: str = Field("1Gi", description="Memory limit per pod; a pod above it is OOM-killed.")


class KubernetesCustomMetric(Section):
    name: str = Field(description="Pods metric served by the cluster's custom metrics API (a Prometheus adapter).")
    average_value: str = Field(description="Target average per pod, a Kubernetes quantity such as `20` or `500m`.")


class KubernetesHpa(Section):
    min_replicas: int = Field(2, ge=1, le=MAX_REPLICAS, description="Fewest pods the autoscaler keeps.")
    max_replicas: int = Field(10, ge=1, le=MAX_REPLICAS, description="Most pods the autoscaler starts.")
    cpu_utilization: int = Field(70, gt=0, le=100, description="Target average CPU use, percent of the request.")
    custom_metric: KubernetesCustomMetric | None = Field(None, description="Also scale on this per-pod metric.")

    @model_validator(mode="after")
    def _ordered(self) -> KubernetesHpa:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        return self


class ManifestPatch(Section):
    kind: Literal["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"] = Field(
        description="Kind of the rendered manifests the patch applies to."
    )
    patch: dict[str, Any] = Field(
        description="Merge patch (RFC 7386); lists of named items (containers, env, volumes) merge by `name`."
    )


class KubernetesOptions(Section):
    kubeconfig: str | None = Field(
        None,
        description="Kubeconfig file, relative to `.mlci.yml`; default: the KUBECONFIG env var (what "
        "`kubeconfigCredentialsId` sets), else `~/.kube/config`.",
    )
    context: str | None = Field(None, description="Kubeconfig context; default: its current context.")
    replicas: int = Field(
        2, ge=1, le=MAX_REPLICAS, description="Model pods (ignored when `hpa` is set: the autoscaler owns it)."
    )
    resources: KubernetesResources = Field(KubernetesResources(), description="Requests and limits of the pod.")
    hpa: KubernetesHpa | None = Field(None, description="A HorizontalPodAutoscaler for the model Deployment.")
    progress_deadline_seconds: int = Field(
        600,
        gt=0,
        le=DAY_SECONDS,
        description="A rollout that makes no progress this long fails (ProgressDeadlineExceeded).",
    )
    startup_seconds: int = Field(
        120, gt=0, le=DAY_SECONDS, description="Time a pod has to load its model before it is restarted."
    )
    prestop_seconds: int = Field(
        5, ge=0, le=3600, description="A stopping pod keeps serving this long, while endpoints drop it."
    )
    poll_seconds: float = Field(2, gt=0, le=600, description="Interval of rollout status polls.")
    patches: list[ManifestPatch] = Field(
        [], description="Changes to the rendered manifests; a result that fails Pod Security `restricted` is refused."
    )


class DeployTarget(Section):
    name: Name = Field(description="Target name, used by steps and stages.")
    type: Literal["ansible", "kubernetes"] = Field(description="Backend that deploys to it.")
    environment: Literal["staging", "production"] = Field(description="Production targets need approval.")
    strategy: Literal["rolling", "blue-green", "canary"] = Field("rolling", description="Rollout strategy.")
    inventory: str | None = Field(None, description="Ansible inventory (type ansible).")
    namespace: str | None = Field(None, description="Kubernetes namespace (required for type kubernetes).")
    url: str | None = Field(None, description="Live endpoint of the target (its load balancer), for smoke tests.")
    service: Name | None = Field(None, description="Service name on the hosts and load balancer; default: model name.")
    canary_steps: list[Annotated[int, Field(gt=0, le=100)]] = Field(
        [5, 25, 50, 100], min_length=1, description="Canary traffic percentages, in order; the last should be 100."
    )
    canary_interval_seconds: int = Field(
        30, gt=0, le=DAY_SECONDS, description="Seconds of traffic judged after each canary step."
    )
    slo: DeploySlo = Field(DeploySlo(), description="What a canary window (and a new slot's probe) must meet.")
    keep_previous_minutes: int = Field(
        60,
        ge=0,
        le=30 * DAY_MINUTES,
        description="Blue-green and canary keep the previous slot running at least this long, for a switch back; "
        "no timer stops it: the first deploy after the window does (0: right after the switch).",
    )
    smoke: SmokeConfig = Field(SmokeConfig(), description="The smoke test of the live endpoint.")
    vars: dict[str, Any] = Field(
        {}, description="More Ansible variables for the playbooks (`mlci_server_*`, `mlci_lb_*`; docs/deploy.md)."
    )
    kubernetes: KubernetesOptions = Field(
        KubernetesOptions(), description="Cluster, pods and manifests of a `kubernetes` target (docs/kubernetes.md)."
    )


class DriftConfig(Section):
    psi_warn: float = Field(0.1, ge=0, le=100, description="PSI at or above which a column warns.")
    psi_drift: float = Field(0.25, ge=0, le=100, description="PSI at or above which a column drifts.")
    dataset_share: float = Field(0.5, gt=0, le=1, description="Share of drifted columns that is dataset drift.")
    wasserstein_drift: float | None = Field(
        0.2,
        ge=0,
        le=1000,
        description="Normalised Wasserstein (in reference standard deviations) at or above which a numeric "
        "column drifts; null: reported only.",
    )
    ks_drift: float | None = Field(
        None, ge=0, le=1, description="KS statistic at or above which a numeric column drifts; null: reported only."
    )
    jensen_shannon_drift: float | None = Field(
        0.1,
        ge=0,
        le=1,
        description="Jensen-Shannon distance at or above which a categorical column drifts; null: reported only.",
    )
    chi_square_pvalue: float | None = Field(
        None, gt=0, lt=1, description="Chi-square p-value below which a categorical column drifts; null: reported only."
    )
    null_fraction_drift: float | None = Field(
        0.05, gt=0, le=1, description="Change of a column's share of missing values that is drift; null: reported only."
    )
    sample_rows: int = Field(
        100_000, gt=0, le=100_000_000, description="Current data above this many rows is sampled (seeded)."
    )
    reference: str | None = Field(
        None,
        description="Drift reference: a JSON file, or a model URI whose run logged it; "
        "default: `models:/<model.name>@champion`.",
    )
    current: str | None = Field(
        None,
        description="Current data: a CSV, Parquet or JSON-lines file, or a folder of them (captured request batches).",
    )


class MonitorSlo(Section):
    window_minutes: int = Field(
        15, gt=0, le=WEEK_MINUTES, description="Window of live metrics the monitor and the alerts judge."
    )
    min_requests: int = Field(
        50, ge=1, le=MAX_REQUESTS, description="Fewest requests a window needs before errors and latency are judged."
    )
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Highest share of 5xx answers to /invocations.")
    max_p99_ms: float = Field(
        1000, gt=0, le=HOUR_MS, description="Highest p99 latency of /invocations, in milliseconds."
    )


RetrainCheck = Literal["drift", "error_rate", "latency", "no_traffic", "down"]


class MonitoringConfig(Section):
    prometheus_url: str | None = Field(
        None, description="Prometheus HTTP API base URL; unset: `mlci monitor` checks drift only, and says so."
    )
    pushgateway_url: str | None = Field(None, description="Pushgateway URL for step, drift and monitor metrics.")
    jenkins_url: str | None = Field(
        None, description="Jenkins that runs the retrain job; default: the JENKINS_URL env var Jenkins sets."
    )
    retrain_job: str | None = Field(
        None, description="Jenkins job (`folder/name`) triggered to retrain; unset: the monitor only reports."
    )
    retrain_on: list[RetrainCheck] = Field(
        ["drift"],
        description="Breaches that trigger the retrain job; the others are reported and notified only "
        "(retraining fixes changed data, not a failing server).",
    )
    cooldown_hours: float = Field(
        24,
        gt=0,
        le=24 * 366,
        description="At most one retrain per model in this window (kept as registry tags on the model).",
    )
    slo: MonitorSlo = Field(MonitorSlo(), description="Live-metric thresholds of the monitor and the alert rules.")
    webhook_format: Literal["generic", "slack"] = Field(
        "generic",
        description="Body posted to the webhook in MLCI_WEBHOOK_URL: mlci's JSON document, or a Slack message.",
    )
    drift: DriftConfig = Field(DriftConfig(), description="Drift thresholds.")


class PipelineConfig(Section):
    continuous_deployment: bool = Field(False, description="Deploy to production without an approval stage.")
    approvers: str | None = Field(None, description="Jenkins users or groups allowed to approve (input submitter).")


class Config(Section):
    """The whole `.mlci.yml`."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, title="mlci configuration (.mlci.yml)")

    version: Literal[1] = Field(1, description="Schema version of this file.")
    model: ModelConfig = Field(description="The model this repository trains and ships.")
    mlflow: MlflowConfig = Field(MlflowConfig(), description="Tracking server and registry.")
    data: DataConfig = Field(DataConfig(), description="Data files and their expectation suite.")
    test: TestConfig = Field(TestConfig(), description="The `test` stage: the repository's pytest suite.")
    training: TrainingConfig = Field(TrainingConfig(), description="The training command and its parameters.")
    validate_: ValidateConfig = Field(
        ValidateConfig(), alias="validate", description="Gates a candidate must pass against the champion."
    )
    image: ImageConfig = Field(ImageConfig(), description="The Docker image that serves the model.")
    deploy: list[DeployTarget] = Field([], description="Deploy targets, in pipeline order.")
    monitoring: MonitoringConfig = Field(MonitoringConfig(), description="Live metrics, drift and retraining.")
    pipeline: PipelineConfig = Field(PipelineConfig(), description="How the stages run.")

    @model_validator(mode="after")
    def _unique_targets(self) -> Config:
        names = [t.name for t in self.deploy]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"deploy target names must be unique; repeated: {', '.join(dupes)}")
        return self


@dataclass
class LoadedConfig:
    config: Config
    path: Path  # the .mlci.yml as the user named it
    project_dir: Path  # where it lives: commands and relative paths start there
    overridden: dict[str, Any] = field(default_factory=dict)  # dotted key -> value from params


# ---------------------------------------------------------------- YAML with line numbers


def _lines(node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise InputError(f"{file}:{line} {_dotted((*path, key))}: duplicate key (first at line {seen[key]})")
            seen[key] = line
            out[(*path, key)] = line
            _lines(value_node, (*path, key), out, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _lines(item, (*path, i), out, file)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Parse YAML into data plus a map from key path to line; YAML errors name file and line.
    Nesting and alias expansion are bounded before the document is built."""
    try:
        bounded.check_yaml(text, file)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{file}:{mark.line + 1}" if mark else file
        raise InputError(f"{where}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{file}: invalid YAML: {err}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _lines(node, (), lines, file)
    return data, lines


# ---------------------------------------------------------------- errors


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The schema class that describes the mapping at `loc`, for did-you-mean hints; list
    indexes and map keys (`deploy[0]`, `thresholds.accuracy`) step into the item type."""
    current: Any = Config
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Peel Optional (`X | None`) off an annotation."""
    if typing.get_origin(annotation) in (list, dict):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _unwrap(args[0]) if len(args) == 1 else annotation


EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(err: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        names = [f.alias or n for n, f in model.model_fields.items()] if model else []
        return f"unknown key{did_you_mean(str(loc[-1]), names)}"
    if kind in EXPECTED:
        expected = err.get("expected", [EXPECTED[kind]])
        wanted = expected[0] if len(expected) == 1 else ", ".join(expected[:-1]) + " or " + expected[-1]
        return f"expected {wanted}, got {describe(value)}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        return f"expected one of {expected}, got {describe(value)}{did_you_mean(str(value), choices)}"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    msg = err["msg"]
    return f"{msg[0].lower()}{msg[1:]}, got {describe(value)}"


def _error_loc(err: dict[str, Any], data: Any) -> tuple[str | int, ...]:
    """The error's path in the user's data: union members add their type name to pydantic's
    loc ("str", "int", ...), which is not a key of the data, so parts the data lacks go, except
    the last one of a missing key."""
    loc: list[str | int] = []
    parts = list(err["loc"])
    for i, part in enumerate(parts):
        if (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        ):
            data = data[part]
        elif not (err["type"] == "missing" and i == len(parts) - 1):
            continue
        loc.append(part)
    return tuple(loc)


def _merge_union_errors(errors: list[dict[str, Any]], data: Any) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """One error per location: a value that fits no member of `str | int | ...` is one mistake."""
    merged: dict[tuple[str | int, ...], dict[str, Any]] = {}
    for err in errors:
        loc = _error_loc(err, data)
        first = merged.get(loc)
        if first is None:
            merged[loc] = dict(err)
        elif err["type"] in EXPECTED and first["type"] in EXPECTED:
            first.setdefault("expected", [EXPECTED[first["type"]]]).append(EXPECTED[err["type"]])
    return list(merged.items())


def _format(
    loc: tuple[str | int, ...],
    err: dict[str, Any],
    file: str,
    lines: dict[tuple[str | int, ...], int],
    overridden: dict[str, Any],
    params_source: str,
    param_names: dict[str, str],
) -> str:
    dotted = _dotted(loc)
    for key in overridden:
        if dotted == key or dotted.startswith(key + ".") or dotted.startswith(key + "["):
            return f"{params_source} {param_names.get(key, key)} ({dotted}): {_message(err, loc)}"
    probe = loc if err["type"] != "missing" else loc[:-1]
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe, 1)
    return f"{file}:{line} {dotted or '(top level)'}: {_message(err, loc)}"


# ---------------------------------------------------------------- loading


def _metric_problems(config: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """Metric names and directions against what the evaluation computes for `model.task`:
    a wrong name or direction found now, not after training (gate/metrics.py has the list)."""
    from mlci.gate import metrics

    task = config.model.task
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name, t in config.validate_.thresholds.items():
        problem = metrics.threshold_problem(task, name, t.greater_is_better)
        if problem:
            key, why = problem
            found.append((("validate", "thresholds", name, *([key] if key else [])), why))
    for i, sc in enumerate(config.validate_.slices):
        wrong = metrics.slice_problem(task, sc.metric)
        if wrong:
            found.append((("validate", "slices", i, "metric"), wrong))
    return found


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[keys[-1]] = value


def load(
    path: str | Path = DEFAULT_FILE,
    overrides: dict[str, Any] | None = None,
    params_source: str = "params",
    param_names: dict[str, str] | None = None,
) -> LoadedConfig:
    """Load `.mlci.yml` and apply step-param overrides (dotted key -> value) on top of it."""
    file = shown_path(str(path))
    text = read(Path(path), file)
    path = Path(path)
    data, lines = parse_yaml(text, file)
    if data is None:
        data = {}
    # Nothing of a file that is no mlci config is echoed: it may be any file on the agent.
    if not isinstance(data, dict):
        raise InputError(f"{file}:1 (top level): not an mlci config: expected a mapping of sections, got {_kind(data)}")
    sections = [f.alias or n for n, f in Config.model_fields.items()]
    if data and not any(str(key) in sections or did_you_mean(str(key), sections) for key in data):
        raise InputError(f"{file}:1 (top level): not an mlci config: no section of .mlci.yml ({', '.join(sections)})")
    merged = copy.deepcopy(data)
    overrides = overrides or {}
    for dotted, value in overrides.items():
        _set(merged, dotted, value)
    try:
        config = Config.model_validate(merged, by_alias=True)
    except ValidationError as exc:
        errors = _merge_union_errors(list(exc.errors(include_url=False)), merged)  # type: ignore[arg-type]
        errors.sort(key=lambda item: lines.get(item[0], 0))
        messages = [_format(loc, err, file, lines, overrides, params_source, param_names or {}) for loc, err in errors]
        raise InputError(messages[0], messages[1:]) from None
    problems = _metric_problems(config)
    if problems:
        messages = [
            _format(
                loc,
                {"type": "value_error", "msg": msg, "ctx": {"error": msg}},
                file,
                lines,
                overrides,
                params_source,
                param_names or {},
            )
            for loc, msg in problems
        ]
        raise InputError(messages[0], messages[1:])
    return LoadedConfig(config=config, path=path, project_dir=path.parent, overridden=dict(overrides))


def shown_path(name: str) -> str:
    """A file name as messages show it: NUL and control characters visible, at most 200 characters."""
    text = name.encode("unicode_escape", "backslashreplace").decode("ascii") if not name.isprintable() else name
    return text if len(text) <= 200 else text[:197] + "..."


def read(path: Path, file: str) -> str:
    """The config file's text; every way of failing to read it is bad input naming the file."""
    try:
        return bounded.read_text(path, file, bounded.MAX_CONFIG_BYTES)
    except FileNotFoundError:
        where = "" if len(str(path)) > 200 else f" (looked in {path.resolve().parent})"
        raise InputError(f"{file}: not found{where}; create it (see docs/config.md) or pass configFile") from None
    except ValueError:  # a NUL byte in the name: no file system takes one
        raise InputError(f"{file}: not a file name: it holds a NUL byte") from None
    except OSError as err:  # a directory, no permission, a name too long
        raise InputError(f"{file}: cannot read: {err.strerror or type(err).__name__}") from None


def _kind(data: Any) -> str:
    kinds: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string"}
    return kinds.get(type(data), "a scalar value")


# ---------------------------------------------------------------- show and schema

SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[_-]?key|credential)", re.IGNORECASE)
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.IGNORECASE)


def redacted(data: Any) -> Any:
    """Config data with secret-looking values masked: keys named like secrets, URL passwords."""
    if isinstance(data, dict):
        return {
            k: ("****" if SECRET_KEY.search(str(k)) and v not in (None, "") else redacted(v)) for k, v in data.items()
        }
    if isinstance(data, list):
        return [redacted(v) for v in data]
    if isinstance(data, str):
        return URL_USERINFO.sub(r"\g<scheme>\g<user>:****@", data)
    return data


def effective(loaded: LoadedConfig) -> dict[str, Any]:
    data: dict[str, Any] = loaded.config.model_dump(mode="json", by_alias=True)
    result: dict[str, Any] = redacted(data)
    return result


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
