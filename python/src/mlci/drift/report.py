"""The drift check's reports: a compact JSON document (at most `MAX_JSON_BYTES`) and a
self-contained HTML page with a reference-vs-current bar chart per column (inline SVG)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlci import masking
from mlci.drift.check import ColumnResult, DriftResult
from mlci.reports import Markup, html_table, write_html

MAX_JSON_BYTES = 50_000
VERSION = 1


def _r(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.4g}")


def _column(c: ColumnResult) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": c.stats.kind, "status": c.status, "reasons": c.reasons}
    out["statistics"] = {k: _r(v) for k, v in c.stats.statistics.items()}
    out["null_fraction"] = {"reference": _r(c.stats.null_fraction[0]), "current": _r(c.stats.null_fraction[1])}
    if c.stats.kind == "numeric":
        out["mean"] = {"reference": _r(c.stats.mean[0]), "current": _r(c.stats.mean[1])}
    if c.stats.new_values:
        out["new_values"] = {k: _r(v) for k, v in c.stats.new_values}
    return out


def document(result: DriftResult, model: str, reference: str, current: str) -> dict[str, Any]:
    return {
        "version": VERSION,
        "model": model,
        "reference": reference,
        "current": current,
        "rows": result.rows,
        "rowsUsed": result.rows_used,
        "datasetDrift": result.dataset_drift,
        "driftedShare": _r(result.share),
        "driftedColumns": [c.name for c in result.drifted],
        "thresholds": asdict(result.thresholds),
        "columns": {c.name: _column(c) for c in result.columns},
        "ignoredColumns": result.ignored[:50],
    }


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Write `doc`; past `MAX_JSON_BYTES` (hundreds of columns) the columns that did not drift
    keep only their status, so the file stays small enough to archive and parse anywhere."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_JSON_BYTES:
        doc = {**doc, "truncated": True}
        doc["columns"] = {
            name: col if col["status"] != "ok" else {"status": "ok"} for name, col in doc["columns"].items()
        }
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return masking.write_text(path, text + "\n")


# ---------------------------------------------------------------- HTML

COLOURS = {"reference": "#9aa5b1", "current": "#1f6feb"}
STATUS_CLASS = {"ok": "pass", "warn": "warn", "drift": "fail"}


def bars(labels: list[str], reference: list[float], current: list[float]) -> Markup:
    """Grouped bars, reference and current share per bin or category, as inline SVG."""
    width, height, left, bottom, top = 720, 230, 44, 78, 14
    plot_h = height - bottom - top
    top_value = max([*reference, *current, 1e-9])
    group = (width - left - 10) / max(len(labels), 1)
    bar = max(min(group * 0.38, 28), 1.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'font-family="system-ui,sans-serif" font-size="10">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 5}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{top_value:.0%}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0%</text>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * group + group / 2 - bar
        for j, (series, value) in enumerate((("reference", reference[i]), ("current", current[i]))):
            h = plot_h * value / top_value
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[series]}"><title>{html.escape(label)} {series}: {value:.2%}</title></rect>'
            )
        short = label if len(label) <= 16 else label[:15] + "…"
        tx, ty = left + i * group + group / 2, top + plot_h + 10
        parts.append(
            f'<text x="{tx:.1f}" y="{ty}" text-anchor="end" transform="rotate(-40 {tx:.1f} {ty})">'
            f"{html.escape(short)}</text>"
        )
    for j, series in enumerate(("reference", "current")):
        x = width - 170 + j * 85
        parts.append(f'<rect x="{x}" y="2" width="10" height="10" fill="{COLOURS[series]}"/>')
        parts.append(f'<text x="{x + 14}" y="11">{series}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _status(status: str) -> Markup:
    return Markup(f'<span class="{STATUS_CLASS[status]}">{status}</span>')


def _stat(c: ColumnResult, name: str) -> str:
    v = c.stats.statistics.get(name)
    return "" if v is None else f"{v:.3g}"


def write_page(path: Path, result: DriftResult, model: str, reference: str, current: str) -> Path:
    verdict = "DATASET DRIFT" if result.dataset_drift else "no dataset drift"
    sampled = f", {result.rows_used} sampled" if result.rows_used < result.rows else ""
    head = (
        f"<p>Model <code>{html.escape(model)}</code>, reference <code>{html.escape(reference)}</code>, "
        f"current <code>{html.escape(current)}</code> ({result.rows} rows{sampled}).</p>"
        f'<p class="{"fail" if result.dataset_drift else "pass"}">{verdict}: {len(result.drifted)} of '
        f"{len(result.columns)} columns drifted ({result.share:.0%}; dataset drift at "
        f"{result.thresholds.dataset_share:.0%}).</p>"
    )
    rows = [
        (
            Markup(f'<a href="#col-{i}">{html.escape(c.name)}</a>'),
            c.stats.kind,
            _status(c.status),
            "; ".join(c.reasons),
            _stat(c, "psi"),
            _stat(c, "ks") or _stat(c, "chi_square_pvalue"),
            _stat(c, "wasserstein") or _stat(c, "jensen_shannon"),
            f"{c.stats.null_fraction[0]:.1%} → {c.stats.null_fraction[1]:.1%}",
        )
        for i, c in enumerate(result.columns)
    ]
    table = html_table(
        ["column", "kind", "status", "decided by", "PSI", "KS D / chi² p", "Wasserstein / JS", "missing"], rows
    )
    sections = []
    for i, c in enumerate(result.columns):
        extra = ""
        if c.stats.new_values:
            extra = "<p>New values: " + ", ".join(
                f"<code>{html.escape(k)}</code> {v:.1%}" for k, v in c.stats.new_values
            )
            extra += "</p>"
        sections.append(
            f'<h2 id="col-{i}">{html.escape(c.name)} ({c.stats.kind}): {_status(c.status)}</h2>{extra}'
            + bars(c.stats.labels, c.stats.reference, c.stats.current)
        )
    return write_html(path, f"Drift: {model}", head + table + "".join(sections))
