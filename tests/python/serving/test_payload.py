"""What a model returns becomes JSON, one item per row, whatever numpy types it holds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlci.serving.payload import predictions


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([np.int64(1), np.float32(0.5), np.bool_(True)], [1, 0.5, True]),
        ((np.int32(2), np.float64(1.25)), [2, 1.25]),
        ([np.array([0.25, 0.75]), [np.int8(1), np.float16(0.5)]], [[0.25, 0.75], [1, 0.5]]),
        ([{"label": np.int64(1), "p": np.float64(0.9)}], [{"label": 1, "p": 0.9}]),
        (np.float64(3.5), [3.5]),
        (np.array([1, 0]), [1, 0]),
        (pd.Series([np.int64(4)]), [4]),
        (pd.DataFrame({"a": [1], "b": [np.array([1, 2])]}), [{"a": 1, "b": [1, 2]}]),
        (["yes", None], ["yes", None]),
    ],
    ids=["scalars", "tuple", "nested", "records", "one-scalar", "array", "series", "frame-of-arrays", "plain"],
)
def test_a_models_output_serialises_as_json(result: object, expected: list[object]) -> None:
    got = predictions(result)
    assert json.loads(json.dumps(got)) == expected
