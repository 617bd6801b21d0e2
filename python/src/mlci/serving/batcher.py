"""Opportunistic batching: requests that arrive while a predict runs share the next one.

Per-call overhead dominates small predicts (a scikit-learn pipeline takes about as long for
one row as for a hundred), so under concurrency one call for eight 1-row requests serves all
eight in the time of one. Nothing waits to fill a batch: an idle server predicts at once.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlci import log
from mlci.serving.metrics import Metrics
from mlci.serving.payload import predictions


@dataclass
class Job:
    frame: Any
    params: dict[str, Any] | None
    future: asyncio.Future[list[Any]]


class Batcher:
    def __init__(self, predict: Callable[..., Any], max_rows: int, metrics: Metrics, accepts_params: bool) -> None:
        self.predict = predict
        self.max_rows = max_rows
        self.metrics = metrics
        self.accepts_params = accepts_params
        self.pending: collections.deque[Job] = collections.deque()
        # Off once a combined predict showed the model cannot take several requests as one
        # table (one row per row): otherwise every later batch would be predicted twice.
        self.combining = True
        self.combined_failures = 0  # batches that failed combined and succeeded one by one
        self.running = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        # One predict thread: the event loop keeps parsing requests while the model works.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="predict")

    def submit(self, frame: Any, params: dict[str, Any] | None) -> asyncio.Future[list[Any]]:
        loop = asyncio.get_running_loop()
        job = Job(frame, params, loop.create_future())
        self.pending.append(job)
        if not self.running:
            self.running = True
            self._task = loop.create_task(self._drain())
        return job.future

    def _next_batch(self) -> list[Job]:
        first = self.pending.popleft()
        batch, rows = [first], len(first.frame)
        # Requests with params predict alone: params apply to the whole call.
        if first.params:
            return batch
        columns = list(first.frame.columns)
        while (
            self.pending
            and not self.pending[0].params
            and rows + len(self.pending[0].frame) <= self.max_rows
            and list(self.pending[0].frame.columns) == columns  # never mix tables of other shapes
        ):
            job = self.pending.popleft()
            batch.append(job)
            rows += len(job.frame)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch = self._next_batch()
                outcomes = await loop.run_in_executor(self.executor, self._run, batch)
                for job, outcome in zip(batch, outcomes, strict=True):
                    if job.future.done():  # the request timed out meanwhile
                        continue
                    if isinstance(outcome, BaseException):
                        job.future.set_exception(outcome)
                    else:
                        job.future.set_result(outcome)
        finally:
            self.running = False

    def _call(self, frame: Any, params: dict[str, Any] | None) -> list[Any]:
        started = time.perf_counter()
        try:
            result = self.predict(frame, params=params) if params and self.accepts_params else self.predict(frame)
        finally:
            self.metrics.predict_latency.observe(time.perf_counter() - started)
        return predictions(result)

    def _run(self, batch: list[Job]) -> list[list[Any] | BaseException]:
        self.metrics.batch_requests.observe(len(batch))
        combined_failed = False
        if len(batch) > 1 and self.combining:
            import pandas as pd

            rows = sum(len(j.frame) for j in batch)
            try:
                combined: list[Any] | None = self._call(pd.concat([j.frame for j in batch], ignore_index=True), None)
            except Exception:
                combined, combined_failed = None, True
            if combined is not None and len(combined) == rows:
                out: list[list[Any] | BaseException] = []
                start = 0
                for job in batch:
                    out.append(combined[start : start + len(job.frame)])
                    start += len(job.frame)
                return out
            if combined is not None:  # not one prediction per row: never combine again
                self._stop_combining(f"it returned {len(combined)} predictions for {rows} rows")
        results: list[list[Any] | BaseException] = []
        for job in batch:
            try:
                results.append(self._call(job.frame, job.params))
            except Exception as err:
                results.append(err)
        if combined_failed and not any(isinstance(r, BaseException) for r in results):
            # Each request alone succeeds where all of them together failed: twice is the model's
            # doing, not a passing fault.
            self.combined_failures += 1
            if self.combined_failures >= 2:
                self._stop_combining("it failed twice on requests combined that it predicts one by one")
        return results

    def _stop_combining(self, why: str) -> None:
        self.combining = False
        log.warn(f"predicting each request on its own from now on: {why}")
