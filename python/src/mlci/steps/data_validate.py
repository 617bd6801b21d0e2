"""`mlci data-validate` (`mlci data validate`): a Great Expectations 1.x suite, stored as JSON
in the model repository, against the declared data files (CSV or Parquet).

GX runs in an ephemeral context (no GX project folder), result format SUMMARY; only the
expectations that fail are run again with COMPLETE, for their unexpected values and sample
rows. Reports: JUnit (one testcase per expectation and file), a small HTML page of the
failures, and GX Data Docs only when `data.data_docs` asks for them. This is the only module
that imports great_expectations (its import alone takes seconds).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci import bounded, log
from mlci.data import files
from mlci.errors import InputError
from mlci.reports import Check, Markup, code, escape, html_table, status, write_html, write_junit
from mlci.step import StepContext, StepResult

SAMPLE_ROWS = 5
TOP_VALUES = 10


@dataclass
class Outcome:
    """One expectation on one file."""

    file: str
    label: str  # expect_x(column=a, ...)
    success: bool
    observed: str
    unexpected: list[tuple[str, int]] = field(default_factory=list)  # value, rows
    sample: Any = None  # DataFrame of sample unexpected rows


def load_suite(path: Path) -> dict[str, Any]:
    try:
        text = bounded.read_text(path, str(path), bounded.MAX_JSON_BYTES)
    except FileNotFoundError:
        raise InputError(
            f"data.suite: {path} not found (`mlci data suggest DATAFILE --out {path}` writes one)"
        ) from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the expectation suite: {err.strerror or err}") from None
    data = bounded.json_loads(text, str(path), " in the expectation suite")
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise InputError(f"{path}: not an expectation suite: expected an object with an `expectations` list")
    if not data["expectations"]:
        raise InputError(f"{path}: the expectation suite has no expectations")
    return data


def label(kind: str, kwargs: dict[str, Any]) -> str:
    parts = []
    for key, value in kwargs.items():
        if key == "batch_id":
            continue
        shown = f"[{len(value)} values]" if isinstance(value, list) and len(value) > 4 else json.dumps(value)
        parts.append(f"{key}={shown.strip(chr(34)) if key == 'column' else shown}")
    text = f"{kind}({', '.join(parts)})"
    return text if len(text) <= 160 else text[:157] + "..."


def _exception(info: dict[str, Any]) -> str | None:
    """GX reports an expectation that could not run either flat or keyed by metric."""
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return None


def _observed(result: dict[str, Any]) -> str:
    if "observed_value" in result:
        return json.dumps(result["observed_value"], default=str)
    if "unexpected_count" in result:
        share = result.get("unexpected_percent") or 0
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')} ({share:.3g}%)"
    return ""


def _suite(gx: Any, data: dict[str, Any], path: Path) -> Any:
    from great_expectations.core import ExpectationSuite

    gx_log = logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(logging.CRITICAL)  # GX logs a traceback for each bad expectation; ours names it
    try:
        for i, raw in enumerate(data["expectations"]):
            kind = raw.get("type") if isinstance(raw, dict) else None
            where = f"{path} expectations[{i}] ({kind or 'no type'}): invalid expectation"
            try:
                probe = ExpectationSuite(name="probe", expectations=[raw])
            except Exception as err:
                raise InputError(f"{where}: {' '.join(str(err).split())[:300]}") from None
            if not probe.expectations:  # GX logs an unknown type and leaves it out
                raise InputError(f"{where}: Great Expectations {gx.__version__} has no expectation of this type")
    finally:
        gx_log.setLevel(level)
    return ExpectationSuite(name=str(data.get("name") or path.stem), expectations=data["expectations"])


def validate(
    suite_data: dict[str, Any], suite_path: Path, frames: list[tuple[str, Any]], docs_dir: Path | None
) -> list[Outcome]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with log.Status("loading Great Expectations"):
        import great_expectations as gx
        from great_expectations.checkpoint.actions import UpdateDataDocsAction
        from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="mlci",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    suite = context.suites.add(_suite(gx, suite_data, suite_path))
    source = context.data_sources.add_pandas("mlci")
    outcomes: list[Outcome] = []
    for i, (name, frame) in enumerate(frames):
        batch_def = source.add_dataframe_asset(f"file-{i}").add_batch_definition_whole_dataframe("all")
        vd = context.validation_definitions.add(gx.ValidationDefinition(data=batch_def, suite=suite, name=f"v{i}"))
        params = {"dataframe": frame}
        with log.Status(f"validating {name}"):
            if docs_dir is None:
                run = vd.run(batch_parameters=params, result_format="SUMMARY")
            else:
                action = UpdateDataDocsAction(name="data-docs", site_names=["mlci"])
                checkpoint = context.checkpoints.add(
                    gx.Checkpoint(name=f"c{i}", validation_definitions=[vd], actions=[action], result_format="SUMMARY")
                )
                run = next(iter(checkpoint.run(batch_parameters=params).run_results.values()))
        by_id = {_config(r).id: r for r in run.results}
        batch = None
        for expectation, raw in zip(suite.expectations, suite_data["expectations"], strict=True):
            r = by_id[expectation.id]
            kwargs = dict(raw.get("kwargs") or {})  # as the user wrote them; GX turns 10 into 10.0
            text = label(raw["type"], kwargs)
            problem = _exception(r.exception_info)
            if problem:
                column = f" column {kwargs['column']!r}" if "column" in kwargs else ""
                raise InputError(f"{name}:{column} {text} (in {suite_path}) cannot run: {problem}")
            outcome = Outcome(name, text, bool(r.success), _observed(r.result))
            if not r.success:
                batch = batch or batch_def.get_batch(batch_parameters=params)
                _complete(outcome, batch.validate(expectation, result_format="COMPLETE").result, frame)
            outcomes.append(outcome)
    if docs_dir is not None:
        context.build_data_docs(site_names=["mlci"])
    return outcomes


def _config(result: Any) -> Any:
    config = result.expectation_config
    if config is None:  # GX types it optional; a validation result always carries it
        raise RuntimeError("Great Expectations returned a result without its expectation")
    return config


def _complete(outcome: Outcome, result: dict[str, Any], frame: Any) -> None:
    """Unexpected values (all of them, counted) and a few sample rows of a failed expectation."""
    values = result.get("unexpected_list") or []
    outcome.unexpected = [(str(v), n) for v, n in Counter(map(str, values)).most_common(TOP_VALUES)]
    index = result.get("unexpected_index_list") or []
    if index and isinstance(index[0], dict):  # GX gives dicts when index columns are set
        index = []
    outcome.sample = frame.loc[list(index[:SAMPLE_ROWS])] if index else None


def _page(path: Path, model: str, suite: str, outcomes: list[Outcome], docs: Path | None) -> Path:
    # Column names, values and file names come from the data: every one is escaped.
    failed = [o for o in outcomes if not o.success]
    names = sorted({o.file for o in outcomes})
    body = f"<p>Suite {code(suite)} on {', '.join(code(n) for n in names)}: "
    body += f"{len(outcomes) - len(failed)} passed, {len(failed)} failed.</p>"
    if docs is not None:
        body += f'<p><a href="{escape(docs.name)}/index.html">Great Expectations Data Docs</a></p>'
    if failed:
        body += "<h2>Failed expectations</h2>"
        for o in failed:
            body += f"<h3>{status(False)} {code(o.file)}: {code(o.label)}</h3><p>Observed: {escape(o.observed)}</p>"
            if o.unexpected:
                body += html_table(["unexpected value", "rows"], o.unexpected)
            if o.sample is not None and len(o.sample):
                sample = o.sample.reset_index(names="row")
                body += "<p>Sample unexpected rows:</p>"
                body += html_table([str(c) for c in sample.columns], sample.astype(str).itertuples(index=False))
    body += "<h2>All expectations</h2>"
    body += html_table(
        ["file", "expectation", "status", "observed"],
        ((o.file, o.label, status(o.success), o.observed) for o in outcomes),
    )
    return write_html(path, f"Data validation: {model}", Markup(body))


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.data
    if not cfg.suite:
        raise InputError(
            "data.suite: not set; `mlci data suggest DATAFILE --out expectations/suite.json` writes a starting suite"
        )
    declared = cfg.files or [f for f in (cfg.train, cfg.holdout) if f]
    if not declared:
        raise InputError("data.files: no data files to validate; set data.files, or data.train and data.holdout")
    suite_path = ctx.project_dir / cfg.suite
    suite_data = load_suite(suite_path)
    # Every file is read before GX is imported: bad input fails in a second, not after the import.
    frames = [(name, files.read(ctx.project_dir / name)) for name in declared]
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    docs = ctx.report_dir / "data-docs" if cfg.data_docs else None
    outcomes = validate(suite_data, suite_path, frames, docs)
    checks = [Check(f"{o.file}: {o.label}", o.success, o.observed) for o in outcomes]
    junit = write_junit(ctx.report_dir / "junit.xml", "data-validate", checks)
    page = _page(ctx.report_dir / "report.html", ctx.config.model.name, cfg.suite, outcomes, docs)
    reports = [junit, page] + ([docs / "index.html"] if docs is not None else [])
    failed = [o for o in outcomes if not o.success]
    outputs = {
        "expectations": len(outcomes),
        "failed": len(failed),
        "files": declared,
        "failedExpectations": [f"{o.file}: {o.label}" for o in failed],
    }
    if failed:
        named = "; ".join(f"{o.file}: {o.label}: {o.observed}" for o in failed)
        return StepResult(
            "failed", f"{len(failed)} of {len(outcomes)} expectations failed: {named}", outputs, reports, junit
        )
    return StepResult(
        "passed", f"{len(outcomes)} expectations passed on {', '.join(declared)}", outputs, reports, junit
    )
