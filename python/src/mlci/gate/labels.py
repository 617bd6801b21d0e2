"""Class labels: recorded at train time, used to read a classifier that returns probabilities.

A native multi-class `lightgbm.Booster` (and many a custom model) returns an (n, k) array of
class probabilities, not a label per row. Its column j is the j-th class in sorted order (the
order of `numpy.unique`, scikit-learn's `classes_` and `LabelEncoder`), so `mlci train`
records the sorted labels of the training data on the run (tag `mlci.labels`) and validation
maps each row to the label of its largest probability, saying so in the report. Without
recorded labels of the right count the output is refused (exit 2) naming its shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlci.errors import InputError

TAG = "mlci.labels"
MAX_TAG_CHARS = 5000  # MLflow's tag value limit on older servers


def record(column: Any) -> str | None:
    """The JSON of the sorted distinct labels of a training label column, None when too many
    to be classes (a tag has a size limit)."""
    values = column.dropna().unique().tolist()
    try:
        ordered = sorted(values)
    except TypeError:  # mixed types: no natural order, so none a model could have used
        return None
    text = json.dumps(ordered, default=str)
    return text if len(text) <= MAX_TAG_CHARS else None


def recorded(tags: dict[str, str]) -> list[Any] | None:
    text = tags.get(TAG)
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


@dataclass(frozen=True)
class Read:
    """A model's predictions as one value per row, and how they were read when not as returned."""

    values: Any
    note: str | None = None


def read(output: Any, task: str, labels: list[Any] | None, model: str) -> Read:
    """`output` of `model`'s predict as one value per row; class probabilities of a classifier
    become labels by argmax over the recorded `labels`."""
    import numpy as np

    arr = np.asarray(output)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        return _one_per_row(output, arr, task, labels, model)
    shape = "(" + ", ".join(str(n) for n in arr.shape) + ")"
    if task != "classification" or arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise InputError(
            f"{model} returns an array of shape {shape} ({arr.dtype}), not one value per row: "
            f"a {task} model's predict must return one prediction per row"
        )
    if not labels or len(labels) != arr.shape[1]:
        have = "no labels were recorded for its run" if not labels else f"its run recorded {len(labels)} labels"
        raise InputError(
            f"{model} returns class probabilities of shape {shape}, not one label per row, and {have} "
            f"(tag {TAG}, written by `mlci train` from the training data) to read them by: return labels "
            f"from predict, or train it through `mlci train` with {arr.shape[1]} classes in model.target"
        )
    values = np.asarray(labels)[arr.argmax(axis=1)]
    shown = ", ".join(str(v) for v in labels[:10]) + (", ..." if len(labels) > 10 else "")
    note = (
        f"{model} returns class probabilities, shape {shape}: each row's label is the argmax over the "
        f"training labels recorded at train time, in sorted order ({shown})"
    )
    return Read(values, note)


def _one_per_row(output: Any, arr: Any, task: str, labels: list[Any] | None, model: str) -> Read:
    """A binary classifier's one probability per row (a native binary Booster: that of the
    larger label) becomes the larger label at 0.5 or above; anything else is taken as is."""
    import numpy as np

    if task != "classification" or arr.dtype.kind != "f" or not labels or len(labels) != 2:
        return Read(output)
    if np.isin(arr, np.asarray(labels, dtype=object)).all() or not ((arr >= 0) & (arr <= 1)).all():
        return Read(output)
    values = np.asarray(labels)[(arr >= 0.5).astype(int)]
    note = (
        f"{model} returns one probability per row, not a label: each row's label is {labels[1]} (the "
        f"larger of the training labels recorded at train time) at 0.5 or above, else {labels[0]}"
    )
    return Read(values, note)
