"""Publishable leaderboards: Markdown, one self-contained HTML page, CompressAI JSON.

:func:`build_report` gathers what a paper or a public leaderboard shows — the BD table
against the anchor (:mod:`.bd_table`), the survey-style family summary
(:mod:`.family_summary`), the RD points and a provenance summary — and the writers lay
it out:

* ``leaderboard.md``: GitHub-flavoured tables, plots linked (``plots/*.svg``);
* ``leaderboard.html``: one file, no external resources: tables sortable by clicking a
  header (a few lines of inline JavaScript), the SVG plots embedded inline, provenance;
* ``compressai-json/<dataset>/<codec>.json``: CompressAI's results format
  ``{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim-rgb"}}`` (one list
  entry per rate point, by rate), so CompressAI's plotting tools read our runs.

CSV stays the canonical format; these are views of it.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codecbench.api.metric import MetricSpec
from codecbench.harness.metric_specs import rd_axes, specs_for
from codecbench.harness.schema import metric_count_column
from codecbench.report.bd_table import bd_table, bd_wide
from codecbench.report.family_summary import SUMMARY_METRICS, family_summary
from codecbench.report.rd import MIN_OVERLAP

FORMATS = ("csv", "md", "html", "json")
LEADING_POINT_COLUMNS = ("codec", "family", "quality", "bpp")
TRAILING_POINT_COLUMNS = ("encode_s", "decode_s", "n_images", "n_errors")


@dataclass
class LeaderboardReport:
    """Everything the published views show."""

    table: pd.DataFrame
    bd: pd.DataFrame
    families: pd.DataFrame
    anchor: str
    method: str
    target_bpp: float
    provenance: list[str] = field(default_factory=list)
    specs: dict[str, MetricSpec] = field(default_factory=dict)
    """Every metric column of the table, with its declarations."""
    rd_metrics: list[str] = field(default_factory=list)
    """The metrics with BD columns and RD plots."""


def build_report(table: pd.DataFrame, anchor: str = "jpeg", method: str = "pchip",
                 target_bpp: float = 0.5, provenance: list[str] | None = None,
                 min_overlap: float = MIN_OVERLAP,
                 specs: dict[str, MetricSpec] | None = None,
                 rd_metrics: list[str] | None = None) -> LeaderboardReport:
    """The BD table, family summary and provenance lines of a leaderboard.

    ``specs`` (default: :func:`~codecbench.harness.metric_specs.specs_for` the table)
    says what each metric column is; ``rd_metrics`` chooses the RD axes (default: every
    metric declaring itself one).
    """
    specs = specs_for(table) if specs is None else dict(specs)
    axes = rd_axes(specs, rd_metrics)
    ranked = [m for m in axes if specs[m].higher_is_better] or axes
    rank_by = "psnr" if "psnr" in ranked else (ranked[0] if ranked else None)
    if rank_by is None:
        rank_by = next((m for m in ("ms-ssim", "ssim") if m in table.columns), None)
    summary_metrics = [*dict.fromkeys([*axes, *SUMMARY_METRICS])]
    families = (family_summary(table, target_bpp, metrics=summary_metrics, rank_by=rank_by,
                               higher_is_better=specs[rank_by].higher_is_better
                               if rank_by in specs else True)
                if rank_by else pd.DataFrame())
    lower = {m for m in axes if not specs[m].higher_is_better}
    bd = bd_table(table, anchor=anchor, metrics=axes, method=method,
                  min_overlap=min_overlap, lower_is_better=lower)
    return LeaderboardReport(table, bd, families, anchor, method, target_bpp,
                             list(provenance or []), specs, axes)


def provenance_lines(run_records: list[dict]) -> list[str]:
    """One line per run (``run.json``): dataset and hash, codecbench, machine, when."""
    lines = []
    for record in run_records:
        dataset = record.get("dataset", {})
        environment = record.get("environment", {})
        hardware = record.get("hardware", {})
        gpus = ", ".join(str(g) for g in hardware.get("gpus") or []) or "no GPU"
        lines.append(
            f"dataset {dataset.get('name', '?')} ({dataset.get('n_images', '?')} images, "
            f"{str(dataset.get('content_hash', '?'))[:19]}…); codecbench "
            f"{environment.get('codecbench', '?')} (commit "
            f"{str(environment.get('git_commit', '?'))[:12]}), Python "
            f"{environment.get('python', '?')}; {hardware.get('cpu', '?')} × "
            f"{hardware.get('cpu_count', '?')} cores, {gpus}; finished "
            f"{record.get('finished_utc', 'not yet')}, {record.get('rows', '?')} rows, "
            f"{record.get('errors', '?')} errors")
    return lines


def _fine_columns(specs: dict[str, MetricSpec]) -> set[str]:
    """Metrics shown with four decimals: those bounded by ±1 (SSIM, MS-SSIM)."""
    return {name for name, spec in specs.items()
            if -1.0 <= spec.valid_range[0] and spec.valid_range[1] <= 1.0}


def _format(value, column: str, fine: Collection[str] = frozenset({"ssim", "ms-ssim"})) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if column in ("encode_s", "decode_s"):
            return f"{value * 1000:.1f} ms"
        if column.split("@")[0] in fine:
            return f"{value:.4f}"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _cells(frame: pd.DataFrame, fine: set[str] | None = None
           ) -> tuple[list[str], list[list[str]]]:
    fine = {"ssim", "ms-ssim"} if fine is None else fine
    columns = [str(c) for c in frame.columns]
    rows = [[_format(value, column, fine) for column, value in zip(columns, row, strict=True)]
            for row in frame.itertuples(index=False)]
    return columns, rows


def markdown_cell(text: str) -> str:
    """``text`` safe in a GitHub-flavoured Markdown table cell: HTML escaped (a codec name
    cannot inject markup), line breaks flattened, pipes escaped."""
    flat = " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text
    return html.escape(flat, quote=False).replace("|", "\\|")


def _markdown_table(frame: pd.DataFrame, fine: set[str] | None = None) -> str:
    if frame.empty:
        return "(none)\n"
    columns, rows = _cells(frame, fine)

    def line(cells):
        return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"

    return "\n".join([line(columns), "|" + "---|" * len(columns), *map(line, rows)]) + "\n"


def _points(report: LeaderboardReport, dataset: str) -> pd.DataFrame:
    """The RD points: every metric column, and ``n_<metric>`` where a mean is over fewer
    images than ``n_images``."""
    frame = report.table[report.table["dataset"] == dataset]
    columns = [*LEADING_POINT_COLUMNS, *report.specs, *TRAILING_POINT_COLUMNS]
    for name in report.specs:
        count = metric_count_column(name)
        if count in frame.columns and "n_images" in frame.columns and (
                frame[count] != frame["n_images"]).any():
            columns.append(count)
    return frame[[c for c in dict.fromkeys(columns) if c in frame.columns]]


def _sections(report: LeaderboardReport):
    """``(title, frame)`` per table, in page order."""
    wide = bd_wide(report.bd)
    for dataset in sorted(report.table["dataset"].unique()):
        bd = wide[wide["dataset"] == dataset].drop(columns="dataset") if not wide.empty else wide
        yield (f"{dataset}: BD-rate against {report.anchor} ({report.method.upper()}; "
               "negative = less rate for the same quality)", bd)
        if not report.families.empty:
            families = report.families[report.families["dataset"] == dataset]
            yield (f"{dataset}: families at {report.target_bpp:g} bpp (best codec of each, "
                   "read off its RD curve)", families.drop(columns="dataset"))
        yield f"{dataset}: rate–distortion points", _points(report, dataset)


def markdown(report: LeaderboardReport, plot_files: Sequence[str] = ()) -> str:
    """``leaderboard.md``."""
    parts = ["# codecbench leaderboard\n"]
    if report.provenance:
        parts.append("Provenance:\n\n" + "".join(f"* {line}\n" for line in report.provenance))
    fine = _fine_columns(report.specs)
    for title, frame in _sections(report):
        parts.append(f"## {markdown_cell(title)}\n\n{_markdown_table(frame, fine)}")
    if plot_files:
        parts.append("## Rate–distortion plots\n\n" + "".join(
            f"![{Path(name).stem}]({name})\n\n" for name in plot_files))
    return "\n".join(parts)


SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, column) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = th.dataset.order !== 'asc';
    th.dataset.order = ascending ? 'asc' : 'desc';
    function key(row) {
      var text = row.cells[th.cellIndex].textContent.trim();
      var number = parseFloat(text.replace(/[^0-9eE+.\\u2212-]/g, '').replace('\\u2212', '-'));
      return isNaN(number) ? text : number;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var result = (typeof x === 'number' && typeof y === 'number') ? x - y
                   : String(x).localeCompare(String(y));
      return ascending ? result : -result;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; cursor: pointer; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
"""


def _html_table(frame: pd.DataFrame, fine: set[str] | None = None) -> str:
    if frame.empty:
        return "<p>(none)</p>"
    columns, rows = _cells(frame, fine)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return (f'<table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _inline_svg(text: str) -> str:
    """An SVG document's ``<svg>`` element, for embedding in HTML."""
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def html_page(report: LeaderboardReport, svg_plots: dict[str, str] | None = None) -> str:
    """``leaderboard.html``: self-contained (inline CSS, JavaScript and SVG)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>codecbench leaderboard</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>codecbench leaderboard</h1>"]
    if report.provenance:
        parts.append("<h2>Provenance</h2><ul>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in report.provenance) + "</ul>")
    fine = _fine_columns(report.specs)
    for title, frame in _sections(report):
        parts.append(f"<h2>{html.escape(title)}</h2>{_html_table(frame, fine)}")
    if svg_plots:
        parts.append("<h2>Rate–distortion plots</h2>")
        for name, svg in svg_plots.items():
            parts.append(f"<figure>{_inline_svg(svg)}<figcaption>{html.escape(name)}"
                         "</figcaption></figure>")
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def compressai_results(table: pd.DataFrame, description: str = "") -> dict[tuple[str, str], dict]:
    """CompressAI's results JSON per dataset × codec (points by increasing rate)."""
    results = {}
    for (dataset, codec), curve in table.groupby(["dataset", "codec"], sort=True):
        curve = curve.sort_values("bpp")
        values = {"bpp": curve["bpp"].tolist()}
        if "psnr" in curve:
            values["psnr-rgb"] = curve["psnr"].tolist()
        if "ms-ssim" in curve:
            values["ms-ssim-rgb"] = curve["ms-ssim"].tolist()
        version = curve["codec_version"].iloc[0] if "codec_version" in curve else ""
        results[(dataset, codec)] = {
            "name": codec,
            "description": (f"codecbench: {codec} ({version}) on {dataset}"
                            + (f"; {description}" if description else "")),
            "results": {key: [None if isinstance(v, float) and not math.isfinite(v) else v
                              for v in vals] for key, vals in values.items()},
        }
    return results


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def write_outputs(report: LeaderboardReport, out_dir: Path, formats, units=None) -> list[Path]:
    """Write the requested views (``md``, ``html``, ``json``) and the plots they use."""
    from codecbench.report.rd_plots import write_rd_plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    plots = []
    if {"md", "html"} & set(formats):
        units = {name: spec.unit for name, spec in report.specs.items()} | dict(units or {})
        plots = write_rd_plots(report.table, out_dir / "plots", metrics=report.rd_metrics,
                               anchor=report.anchor, units=units)
        written += plots
    if "md" in formats:
        links = [f"plots/{p.name}" for p in plots if p.suffix == ".svg"]
        path = out_dir / "leaderboard.md"
        path.write_text(markdown(report, links))
        written.append(path)
    if "html" in formats:
        svgs = {p.stem: p.read_text() for p in plots if p.suffix == ".svg"}
        path = out_dir / "leaderboard.html"
        path.write_text(html_page(report, svgs))
        written.append(path)
    if "json" in formats:
        description = report.provenance[0] if report.provenance else ""
        for (dataset, codec), record in compressai_results(report.table, description).items():
            path = out_dir / "compressai-json" / _slug(dataset) / f"{_slug(codec)}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2) + "\n")
            written.append(path)
    return written
