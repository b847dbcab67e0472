"""Aggregation of result rows into the leaderboard (means per dataset × codec × quality).

Plain Python over :class:`~codecbench.harness.table.Table` (a run imports no table
library); the report layer converts the result with
:func:`~codecbench.harness.frames.frame_of`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from codecbench.harness.schema import (
    COUNT_COLUMNS,
    GROUP_COLUMNS,
    KEY_COLUMNS,
    ResultRow,
    metric_columns,
    metric_count_column,
    row_columns,
)
from codecbench.harness.table import Table, is_missing

MEASURED_COLUMNS = ("bytes", "bpp")
TIMING_COLUMNS = ("encode_s", "decode_s")
INTEGER_COLUMNS = ("width", "height", "bytes")
TEXT_COLUMNS = ("error", "metric_errors")


def rows_table(rows: Iterable[ResultRow], metric_names: Sequence[str]) -> Table:
    """``rows.csv`` as a table, columns in schema order: ``width``, ``height`` and
    ``bytes`` integers or ``None``, ``bpp``, the metrics, ``encode_s`` and ``decode_s``
    floats (``nan`` when missing), ``error`` and ``metric_errors`` text."""
    columns = row_columns(metric_names)
    numeric = {"bpp", *metric_columns(metric_names), *TIMING_COLUMNS}
    converters = [_integer if c in INTEGER_COLUMNS else _float if c in numeric
                  else _text if c in TEXT_COLUMNS else _same for c in columns]
    records = (row.as_record(metric_names) for row in rows)
    return Table(columns, [tuple(to(record[c]) for c, to in zip(columns, converters, strict=True))
                           for record in records])


def _same(value: Any) -> Any:
    return value


def _integer(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def aggregate(table: Table, metric_names: Sequence[str]) -> Table:
    """Mean of every measurement per dataset × codec × quality over rows without error.

    Columns: ``dataset, codec, codec_version, framework, family, quality``,
    the means of ``bytes``, ``bpp``, every metric, ``encode_s``, ``decode_s``,
    then ``n_images`` (rows without error), ``n_errors`` and ``n_<metric>`` per metric
    (the images that metric's mean is over: a metric that failed or did not apply on an
    image has no value there). Rows are sorted by dataset, codec and mean bpp (the order
    of a rate-distortion curve). A mean over no value is ``nan``.
    """
    metrics = metric_columns(metric_names)
    value_columns = [*MEASURED_COLUMNS, *metrics, *TIMING_COLUMNS]
    count_columns = [*COUNT_COLUMNS, *(metric_count_column(m) for m in metrics)]
    # rows of one dataset name but different contents (hashes) are never averaged together
    groups = (["dataset_hash", *GROUP_COLUMNS] if "dataset_hash" in table.columns
              else list(GROUP_COLUMNS))
    key_at = [table.index(c) for c in groups]
    value_at = [table.index(c) for c in value_columns]
    error_at = table.index("error")
    metric_at = [value_columns.index(m) for m in metrics]
    sums: dict[tuple, list[_Mean]] = {}  # groups in order of first appearance
    counts: dict[tuple, list[int]] = {}
    for row in table.rows:
        key = tuple(row[i] for i in key_at)
        if key not in sums:
            sums[key] = [_Mean() for _ in value_columns]
            counts[key] = [0] * len(count_columns)
        # Error rows hold no measurement (empty), so the means are over the rows without
        # error.
        values = [_as_float(row[i]) for i in value_at]
        for mean, value in zip(sums[key], values, strict=True):
            mean.add(value)
        failed = row[error_at] != ""
        tally = counts[key]
        tally[0] += 0 if failed else 1
        tally[1] += 1 if failed else 0
        for j, at in enumerate(metric_at, start=len(COUNT_COLUMNS)):
            tally[j] += 0 if math.isnan(values[at]) else 1
    rows = [(*key, *(mean.value() for mean in sums[key]), *counts[key]) for key in sums]
    bpp_at = len(groups) + value_columns.index("bpp")
    dataset_at, codec_at, quality_at = (groups.index(c) for c in ("dataset", "codec", "quality"))

    def order(row: tuple) -> tuple:
        bpp = row[bpp_at]
        return (row[dataset_at], row[codec_at], math.inf if math.isnan(bpp) else bpp,
                row[quality_at])

    return Table([*groups, *value_columns, *count_columns], sorted(rows, key=order))


def _as_float(value: Any) -> float:
    return math.nan if is_missing(value) else float(value)


class _Mean:
    """The mean of the values added, ``nan`` ignored: a compensated (Kahan) sum in the order
    of the rows, divided by the count — the arithmetic of pandas' group means, which
    computed the leaderboards before, so that a mean is the same to the last bit."""

    __slots__ = ("compensation", "count", "total")

    def __init__(self) -> None:
        self.total = 0.0
        self.compensation = 0.0
        self.count = 0

    def add(self, value: float) -> None:
        if value != value:
            return
        self.count += 1
        y = value - self.compensation
        t = self.total + y
        self.compensation = t - self.total - y
        if self.compensation != self.compensation:  # an infinite value: keep it infinite
            self.compensation = 0.0
        self.total = t

    def value(self) -> float:
        return self.total / self.count if self.count else math.nan


def drop_duplicate_keys(table: Table) -> tuple[Table, int]:
    """Keep the first row of each task key; returns the table and how many were dropped."""
    kept = table.first_per(KEY_COLUMNS)
    return kept, len(table) - len(kept)


def format_table(table: Table, metric_names: Sequence[str], max_rows: int = 60) -> str:
    """A short plain-text leaderboard for the terminal: one line per row, every column
    right-aligned to its widest cell and the columns one space apart, the counts' headers
    after a space (the layout of pandas' ``DataFrame.to_string``, which printed it before)."""
    if not table.rows:
        return "(no results)"
    rates = ("bpp", *metric_columns(metric_names))
    columns = ["dataset", "codec", "quality", *rates, *TIMING_COLUMNS, "n_images", "n_errors"]
    shown = table.select(columns)
    texts = []
    for at, name in enumerate(columns):
        values = [row[at] for row in shown.rows[:max_rows]]
        if name in rates:
            cells = ["" if is_missing(v) else f"{v:.4f}" for v in values]
        elif name in TIMING_COLUMNS:
            cells = ["" if is_missing(v) else f"{v * 1000:.1f}ms" for v in values]
        else:
            cells = [_shown_text(v) for v in values]
        header = " " + _shown_text(name) if name in COUNT_COLUMNS else _shown_text(name)
        width = max([len(header), *map(len, cells)])
        texts.append([header.rjust(width), *(c.rjust(width) for c in cells)])
    text = "\n".join(" ".join(line) for line in zip(*texts, strict=True))
    if len(shown) > max_rows:
        text += f"\n... {len(shown) - max_rows} more rows in leaderboard.csv"
    return text


def _shown_text(value: object) -> str:
    """A cell's text on the terminal: tabs and line breaks written as ``\\t``, ``\\r``,
    ``\\n``."""
    return str(value).replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
