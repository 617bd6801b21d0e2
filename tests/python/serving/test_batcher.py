"""The batcher: concurrent requests share one predict, each gets its own rows' predictions, a
bad request fails alone, and a model that cannot take requests combined is never asked twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from mlci.serving.batcher import Batcher
from mlci.serving.metrics import Metrics


def frames(*sizes: int) -> list[pd.DataFrame]:
    start, out = 0, []
    for size in sizes:
        out.append(pd.DataFrame({"x": range(start, start + size)}))
        start += size
    return out


def run(predict: Callable[[pd.DataFrame], Any], batches: list[list[pd.DataFrame]]) -> tuple[list[Any], Batcher]:
    """Submit each batch of frames at once (so they share a predict), one batch after another."""
    batcher = Batcher(predict, max_rows=100, metrics=Metrics(), accepts_params=False)

    async def main() -> list[Any]:
        got: list[Any] = []
        for batch in batches:
            futures = [batcher.submit(f, None) for f in batch]
            got += await asyncio.gather(*futures, return_exceptions=True)
        return got

    return asyncio.run(main()), batcher


def test_concurrent_requests_share_one_predict_and_get_their_own_rows() -> None:
    calls: list[int] = []

    def predict(frame: pd.DataFrame) -> Any:
        calls.append(len(frame))
        return (frame["x"] * 10).to_numpy()

    got, _ = run(predict, [frames(1, 2, 3)])
    assert calls == [6]  # submitted together: one predict for the three
    assert got == [[0], [10, 20], [30, 40, 50]]


def test_a_bad_request_fails_alone() -> None:
    def predict(frame: pd.DataFrame) -> Any:
        if (frame["x"] == 1).any():
            raise ValueError("x=1 is not a valid input")
        return frame["x"].to_numpy()

    got, batcher = run(predict, [frames(1, 1, 1)])
    assert got[0] == [0] and got[2] == [2]
    assert isinstance(got[1], ValueError)
    assert batcher.combining  # one bad request says nothing about the model


def test_a_model_answering_one_value_per_call_is_never_predicted_twice() -> None:
    calls: list[int] = []

    def predict(frame: pd.DataFrame) -> Any:  # an aggregate: one answer whatever the rows
        calls.append(len(frame))
        return [float(frame["x"].sum())]

    got, batcher = run(predict, [frames(1, 1, 1), frames(1, 1, 1)])
    # First batch: combined (one answer for 3 rows, so each alone); the second: each alone only.
    assert calls == [3, 1, 1, 1, 1, 1, 1]
    assert not batcher.combining
    assert got == [[0.0], [1.0], [2.0]] * 2


def test_a_model_that_fails_only_on_combined_requests_stops_combining() -> None:
    calls: list[int] = []

    def predict(frame: pd.DataFrame) -> Any:
        calls.append(len(frame))
        if len(frame) > 1:
            raise RuntimeError("one row at a time")
        return frame["x"].to_numpy()

    got, batcher = run(predict, [frames(1, 1, 1)] * 3)
    # Once could be a passing fault: combined again; after the second time, one by one only.
    assert calls == [3, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1]
    assert not batcher.combining
    assert got == [[0], [1], [2]] * 3


@pytest.mark.parametrize("sizes", [(1, 2), (3,)])
def test_a_request_with_params_predicts_alone(sizes: tuple[int, ...]) -> None:
    seen: list[tuple[int, Any]] = []

    def predict(frame: pd.DataFrame, params: Any = None) -> Any:
        seen.append((len(frame), params))
        return frame["x"].to_numpy()

    batcher = Batcher(predict, max_rows=100, metrics=Metrics(), accepts_params=True)

    async def main() -> list[Any]:
        parts = frames(1, *sizes)
        futures = [batcher.submit(parts[0], None)] + [batcher.submit(f, {"k": 1}) for f in parts[1:]]
        return await asyncio.gather(*futures)

    asyncio.run(main())
    assert [p for _, p in seen] == [None] + [{"k": 1}] * len(sizes)
