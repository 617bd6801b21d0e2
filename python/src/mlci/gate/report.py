"""The validation report: a self-contained HTML page (inline SVG plots) and a Markdown summary
fit for a pull-request comment."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.gate.checks import MetricRow, SliceResult, fmt
from mlci.reports import Check, Markup, html_table, md, md_code, status, write_html

BLUE, GREY = "#3366aa", "#aaaaaa"
SVG = 'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"'


@dataclass
class Gate:
    """Everything the reports show."""

    model: str
    run_id: str
    champion_version: str | None
    champion_reused: bool
    holdout: str
    holdout_digest: str
    rows: list[MetricRow]
    checks: list[Check]
    slices: list[SliceResult]
    confusion: tuple[list[str], list[list[int]]] | None  # labels, counts[true][predicted]
    residuals: list[float] | None
    notes: list[str] = field(default_factory=list)  # how a model's output was read, when not as returned

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def champion_line(self) -> str:
        if self.champion_version is None:
            return "No champion yet: this is the first model, so only absolute thresholds apply."
        how = "its stored metrics on this holdout reused" if self.champion_reused else "re-evaluated on this holdout"
        return f"Against champion version {self.champion_version} ({how})."


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def _delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


# ---------------------------------------------------------------- SVG


def _bars(title: str, groups: list[tuple[str, list[tuple[str, float, str]]]]) -> Markup:
    """Horizontal bars: per group (label), one bar per series (name, value, colour)."""
    values = [abs(v) for _, series in groups for _, v, _ in series if v == v]
    top = max(values, default=1.0) or 1.0
    bar, gap, left, width = 14, 10, 190, 320
    height = sum(len(s) * bar + gap for _, s in groups) + 30
    parts = [f'<text x="0" y="14" font-weight="600">{html.escape(title)}</text>']
    y = 24
    for label, series in groups:
        parts.append(f'<text x="0" y="{y + bar}" font-size="12">{html.escape(label[:28])}</text>')
        for name, value, colour in series:
            w = 0 if value != value else max(1, abs(value) / top * width)
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{colour}"/>')
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar - 3}" font-size="11">{html.escape(name)} {fmt(value)}</text>'
            )
            y += bar
        y += gap
    return Markup(f'<svg {SVG} width="{left + width + 160}" height="{height}">{"".join(parts)}</svg>')


def metric_plot(rows: list[MetricRow]) -> Markup:
    shown = [r for r in rows if r.gated] or rows[:8]
    groups = []
    for r in shown:
        series = [("candidate", r.candidate, BLUE)]
        if r.champion is not None:
            series.append(("champion", r.champion, GREY))
        groups.append((r.name, series))
    return _bars("Candidate vs champion (gated metrics)", groups)


def slice_plot(result: SliceResult) -> Markup:
    groups = [(f"{result.column}={v}", [(f"n={n}", m, BLUE)]) for v, (m, n) in result.values.items()]
    return _bars(f"{result.metric} by {result.column}", groups)


def confusion_plot(labels: list[str], counts: list[list[int]]) -> Markup:
    cell, left, top = 60, 110, 40
    peak = max((c for row in counts for c in row), default=1) or 1
    parts = [
        '<text x="0" y="14" font-weight="600">Confusion matrix (rows: true, columns: predicted)</text>',
    ]
    for j, label in enumerate(labels):
        parts.append(f'<text x="{left + j * cell + 6}" y="{top - 6}" font-size="12">{html.escape(label[:8])}</text>')
    for i, row in enumerate(counts):
        parts.append(
            f'<text x="0" y="{top + i * cell + cell / 2 + 4}" font-size="12">{html.escape(labels[i][:12])}</text>'
        )
        for j, count in enumerate(row):
            shade = int(235 - 170 * count / peak)
            fill = f"rgb({shade},{shade},255)"
            x, y = left + j * cell, top + i * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}"/>')
            parts.append(f'<text x="{x + 8}" y="{y + cell / 2 + 4}" font-size="13">{count}</text>')
    size = left + cell * len(labels) + 10
    return Markup(f'<svg {SVG} width="{size}" height="{top + cell * len(labels) + 10}">{"".join(parts)}</svg>')


def residual_plot(residuals: list[float], bins: int = 20) -> Markup:
    if not residuals:
        return Markup("")
    low, high = min(residuals), max(residuals)
    step = (high - low) / bins or 1.0
    counts = [0] * bins
    for r in residuals:
        counts[min(bins - 1, int((r - low) / step))] += 1
    peak = max(counts) or 1
    width, height, bar = 420, 160, 420 / bins
    parts = ['<text x="0" y="14" font-weight="600">Residuals (true - predicted)</text>']
    for i, c in enumerate(counts):
        h = c / peak * (height - 40)
        parts.append(
            f'<rect x="{i * bar:.1f}" y="{height - 20 - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" fill="{BLUE}"/>'
        )
    parts.append(f'<text x="0" y="{height - 4}" font-size="11">{fmt(low)}</text>')
    parts.append(f'<text x="{width - 60}" y="{height - 4}" font-size="11">{fmt(high)}</text>')
    return Markup(f'<svg {SVG} width="{width}" height="{height}">{"".join(parts)}</svg>')


# ---------------------------------------------------------------- pages


def write_html_report(path: Path, gate: Gate) -> Path:
    verdict = "passed" if gate.passed else "FAILED"
    body = [
        f"<p>{status(gate.passed)} Run <code>{html.escape(gate.run_id)}</code> "
        f"on <code>{html.escape(gate.holdout)}</code> "
        f"(digest <code>{html.escape(gate.holdout_digest[:12])}</code>). {html.escape(gate.champion_line)}</p>",
        *(f"<p>Note: {html.escape(note)}.</p>" for note in gate.notes),
        "<h2>Checks</h2>",
        html_table(
            ["check", "status", "observed against required"],
            [(c.name, status(c.passed), c.message) for c in gate.checks],
        ),
        "<h2>Metrics</h2>",
        html_table(
            ["metric", "candidate", "champion", "Δ", "Δ%", "gate"],
            [
                (
                    r.name,
                    fmt(r.candidate),
                    fmt(r.champion),
                    _delta(r.delta),
                    _pct(r.delta_pct),
                    status(r.passed) if r.passed is not None else "",
                )
                for r in gate.rows
            ],
        ),
        metric_plot(gate.rows),
    ]
    if gate.confusion:
        body += ["<h2>Confusion matrix</h2>", confusion_plot(*gate.confusion)]
    if gate.residuals is not None:
        body += ["<h2>Residuals</h2>", residual_plot(gate.residuals)]
    if gate.slices:
        body.append("<h2>Slices</h2>")
        for s in gate.slices:
            body.append(html_table([s.column, s.metric, "rows"], [(v, fmt(m), n) for v, (m, n) in s.values.items()]))
            body.append(slice_plot(s))
    return write_html(path, f"Model validation {verdict}: {gate.model}", "\n".join(body))


def markdown(gate: Gate) -> str:
    # Metric, check and slice names come from config, data or the model: every one is escaped.
    failing = [c for c in gate.checks if not c.passed]
    head = "passed" if gate.passed else f"FAILED ({len(failing)} of {len(gate.checks)} checks)"
    lines = [
        f"### mlci validate: {md(gate.model)} {head}",
        "",
        f"Candidate run {md_code(gate.run_id)}, holdout {md_code(gate.holdout)} "
        f"(digest {md_code(gate.holdout_digest[:12])}). {md(gate.champion_line)}",
        "",
        *(f"Note: {md(note)}.\n" for note in gate.notes),
    ]
    if failing:
        lines += ["**Failing checks**", ""] + [f"- {md(c.name)}: {md(c.message)}" for c in failing] + [""]
    lines += ["| metric | candidate | champion | Δ | Δ% | gate |", "| --- | --- | --- | --- | --- | --- |"]
    for r in gate.rows:
        if r.gated:
            mark = "pass" if r.passed else "**FAIL**"
            lines.append(
                f"| {md(r.name)} | {fmt(r.candidate)} | {fmt(r.champion)} | {_delta(r.delta)} | "
                f"{_pct(r.delta_pct)} | {mark} |"
            )
    others = [c for c in gate.checks if not c.name.startswith("metric ")]
    if others:
        lines += ["", "| check | status | detail |", "| --- | --- | --- |"]
        lines += [f"| {md(c.name)} | {'pass' if c.passed else '**FAIL**'} | {md(c.message)} |" for c in others]
    return "\n".join(lines) + "\n"


def outputs_table(gate: Gate) -> dict[str, Any]:
    return {c.name: "passed" if c.passed else "failed" for c in gate.checks}
