"""The metrics the gate can check, per `model.task`: what `mlflow.models.evaluate`'s default
evaluator computes (MLflow 3), the direction of each, and which ones slices can compute.

Pure data, imported when `.mlci.yml` loads (without MLflow): a threshold or slice naming a
metric the evaluation never computes, or stating the wrong direction for one, is refused there
instead of minutes later at validate time. `docs/config.md` is generated from this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci.contracts import did_you_mean

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool | None  # None: a count or a sum, with no better direction
    description: str
    when: str = ""  # the condition under which the evaluation computes it; "": always
    per_slice: bool = False  # computed per slice by `validate.slices`


_SKLEARN_SCORE = "scikit-learn models only (their `score` method)"

METRICS: dict[str, tuple[Metric, ...]] = {
    "classification": (
        Metric("accuracy_score", True, "Share of rows predicted right.", per_slice=True),
        Metric("precision_score", True, "Precision (binary: the larger label; else weighted).", per_slice=True),
        Metric("recall_score", True, "Recall (binary: the larger label; else weighted).", per_slice=True),
        Metric("f1_score", True, "F1 (binary: the larger label; else weighted).", per_slice=True),
        Metric("log_loss", False, "Cross-entropy of the predicted probabilities.", "the model has `predict_proba`"),
        Metric("roc_auc", True, "Area under the ROC curve (multi-class: one-vs-rest, weighted).", "`predict_proba`"),
        Metric("precision_recall_auc", True, "Area under the precision-recall curve.", "binary, `predict_proba`"),
        Metric("true_positives", True, "Rows of the larger label predicted as it.", "binary"),
        Metric("true_negatives", True, "Rows of the smaller label predicted as it.", "binary"),
        Metric("false_positives", False, "Rows of the smaller label predicted as the larger.", "binary"),
        Metric("false_negatives", False, "Rows of the larger label predicted as the smaller.", "binary"),
        Metric("score", True, "The estimator's own score (accuracy for classifiers).", _SKLEARN_SCORE),
        Metric("example_count", None, "Rows evaluated."),
    ),
    "regression": (
        Metric("root_mean_squared_error", False, "Root of the mean squared error.", per_slice=True),
        Metric("mean_squared_error", False, "Mean squared error.", per_slice=True),
        Metric("mean_absolute_error", False, "Mean absolute error.", per_slice=True),
        Metric("mean_absolute_percentage_error", False, "Mean absolute error relative to the label."),
        Metric("max_error", False, "Largest absolute error.", per_slice=True),
        Metric("r2_score", True, "Coefficient of determination R².", per_slice=True),
        Metric("score", True, "The estimator's own score (R² for regressors).", _SKLEARN_SCORE),
        Metric("example_count", None, "Rows evaluated."),
        Metric("sum_on_target", None, "Sum of the labels."),
        Metric("mean_on_target", None, "Mean of the labels."),
    ),
}


# Names users type for MLflow's metrics, for the did-you-mean of a refused one.
ABBREVIATIONS = {
    "rmse": "root_mean_squared_error",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "r2": "r2_score",
    "accuracy": "accuracy_score",
    "f1": "f1_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "auc": "roc_auc",
    "logloss": "log_loss",
}


def for_task(task: str) -> dict[str, Metric]:
    return {m.name: m for m in METRICS[task]}


def per_slice(task: str) -> list[str]:
    return [m.name for m in METRICS[task] if m.per_slice]


def _hint(task: str, name: str, names: list[str]) -> str:
    others = [t for t in TASKS if t != task and name in for_task(t)]
    if others:
        return f"; {name!r} is a {others[0]} metric and model.task is {task}"
    full = ABBREVIATIONS.get(name.lower())
    return f"; did you mean {full!r}?" if full in names else did_you_mean(name, names)


def threshold_problem(task: str, name: str, stated: bool | None) -> tuple[str | None, str] | None:
    """Why a threshold on metric `name` with the stated direction cannot stand, as (the key of
    the threshold at fault, or None for its name; the reason), or None."""
    known = for_task(task)
    metric = known.get(name)
    if metric is None:
        hint = _hint(task, name, list(known))
        return None, (
            f"the evaluation computes no metric {name!r} for {task}{hint} "
            f"(it computes: {', '.join(sorted(known))}; docs/config.md lists them)"
        )
    if metric.greater_is_better is None:
        if stated is None:
            what = metric.description.rstrip(".").lower()
            return None, f"{name} has no better direction ({what}): set greater_is_better"
        return None
    if stated is not None and stated != metric.greater_is_better:
        way = "higher" if metric.greater_is_better else "lower"
        return "greater_is_better", (
            f"{str(stated).lower()} contradicts {name}, which is {way}-is-better; "
            "remove the key (mlci knows the direction)"
        )
    return None


def greater_is_better(task: str, name: str, stated: bool | None) -> bool:
    """The direction of a threshold that passed `threshold_problem`."""
    metric = for_task(task).get(name)
    direction = stated if stated is not None else (metric.greater_is_better if metric else None)
    if direction is None:  # the config load refuses this; a programming error if it gets here
        raise ValueError(f"no direction for metric {name!r}")
    return direction


def slice_problem(task: str, name: str) -> str | None:
    names = per_slice(task)
    if name in names:
        return None
    hint = _hint(task, name, names)
    return f"no per-slice metric {name!r} for {task}{hint} (one of {', '.join(names)})"


def markdown() -> str:
    """The per-task metric tables of docs/config.md."""
    lines = [
        "## Metrics per `model.task`",
        "",
        "What `validate.thresholds` can gate: the metrics MLflow's default evaluator computes. The",
        "direction is known for each (an error or a loss is lower-is-better), so `greater_is_better`",
        "is needed only for a metric without one, and a stated direction that contradicts it is an",
        "error. Any other name is refused when the file loads (exit 2). `validate.slices` computes",
        "the metrics marked per slice.",
        "",
    ]
    for task in TASKS:
        lines += [
            f"### `{task}`",
            "",
            "| metric | better | per slice | computed | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for m in METRICS[task]:
            better = {True: "higher", False: "lower", None: "(state `greater_is_better`)"}[m.greater_is_better]
            lines.append(
                f"| `{m.name}` | {better} | {'yes' if m.per_slice else ''} | {m.when or 'always'} | {m.description} |"
            )
        lines.append("")
    return "\n".join(lines)
