"""Reading a classifier's output as labels: class probabilities by argmax over the recorded
training labels, one binary probability at 0.5; what cannot be read is refused (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlci.errors import InputError
from mlci.gate import labels


def test_record_sorts_the_training_labels() -> None:
    assert json.loads(labels.record(pd.Series(["b", "c", "a", "b", None])) or "") == ["a", "b", "c"]
    assert json.loads(labels.record(pd.Series([2, 0, 1, 1])) or "") == [0, 1, 2]
    assert labels.record(pd.Series(["a", 1])) is None  # no order a model could have used
    assert labels.recorded({labels.TAG: '["a", "b"]'}) == ["a", "b"] and labels.recorded({}) is None


def test_probabilities_become_labels_by_argmax() -> None:
    read = labels.read(np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]]), "classification", ["x", "y", "z"], "m")
    assert read.values.tolist() == ["y", "x"]
    assert read.note and "shape (2, 3)" in read.note and "(x, y, z)" in read.note


def test_one_binary_probability_becomes_the_larger_label_at_half() -> None:
    read = labels.read(np.array([0.2, 0.5, 0.9]), "classification", [0, 1], "m")
    assert read.values.tolist() == [0, 1, 1] and read.note and "one probability per row" in read.note
    as_is = labels.read(np.array([0.0, 1.0]), "classification", [0, 1], "m")  # labels already
    assert as_is.note is None
    assert labels.read(np.array([1.5, 2.5]), "regression", None, "m").note is None


@pytest.mark.parametrize(
    ("output", "task", "recorded", "says"),
    [
        (np.ones((4, 3)), "classification", None, "class probabilities of shape (4, 3), not one label per row, and no"),
        (np.ones((4, 3)), "classification", ["a", "b"], "and its run recorded 2 labels"),
        (np.ones((4, 2)), "regression", None, "returns an array of shape (4, 2) (float64), not one value per row"),
    ],
)
def test_output_that_cannot_be_read_is_refused(output: object, task: str, recorded: object, says: str) -> None:
    with pytest.raises(InputError) as err:
        labels.read(output, task, recorded, "the candidate models:/m-1")  # type: ignore[arg-type]
    assert str(err.value).startswith("the candidate models:/m-1 ") and says in str(err.value)
