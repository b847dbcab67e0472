"""Aggregation of result rows into the leaderboard (means per dataset × codec × quality)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from codecbench.harness.schema import (
    COUNT_COLUMNS,
    GROUP_COLUMNS,
    KEY_COLUMNS,
    ResultRow,
    metric_columns,
    metric_count_column,
    row_columns,
)

MEASURED_COLUMNS = ("bytes", "bpp")
TIMING_COLUMNS = ("encode_s", "decode_s")


def rows_frame(rows: Iterable[ResultRow], metric_names: Sequence[str]) -> pd.DataFrame:
    """``rows.csv`` as a DataFrame, columns in schema order."""
    columns = row_columns(metric_names)
    records = [row.as_record(metric_names) for row in rows]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ("width", "height", "bytes"):
        frame[column] = frame[column].astype("Int64")
    numeric = ["bpp", *metric_columns(metric_names), *TIMING_COLUMNS]
    frame[numeric] = frame[numeric].astype("float64")
    frame["error"] = frame["error"].fillna("").astype(str)
    frame["metric_errors"] = frame["metric_errors"].fillna("").astype(str)
    return frame


def aggregate(frame: pd.DataFrame, metric_names: Sequence[str]) -> pd.DataFrame:
    """Mean of every measurement per dataset × codec × quality over rows without error.

    Columns: ``dataset, codec, codec_version, framework, family, quality``,
    the means of ``bytes``, ``bpp``, every metric, ``encode_s``, ``decode_s``,
    then ``n_images`` (rows without error), ``n_errors`` and ``n_<metric>`` per metric
    (the images that metric's mean is over: a metric that failed or did not apply on an
    image has no value there). Rows are sorted by dataset, codec and mean bpp (the order
    of a rate-distortion curve).
    """
    metrics = metric_columns(metric_names)
    value_columns = [*MEASURED_COLUMNS, *metrics, *TIMING_COLUMNS]
    count_columns = [*COUNT_COLUMNS, *(metric_count_column(m) for m in metrics)]
    # rows of one dataset name but different contents (hashes) are never averaged together
    groups = ["dataset_hash", *GROUP_COLUMNS] if "dataset_hash" in frame else list(GROUP_COLUMNS)
    if frame.empty:
        return pd.DataFrame(columns=[*groups, *value_columns, *count_columns])
    work = frame[[*groups, *value_columns]].astype(dict.fromkeys(value_columns, "float64"))
    work["n_errors"] = (frame["error"] != "").astype(int)
    work["n_images"] = 1 - work["n_errors"]
    for metric in metrics:
        work[metric_count_column(metric)] = work[metric].notna().astype(int)
    # Error rows hold no measurement (NaN), so the means are over the rows without error.
    aggregations = {**dict.fromkeys(value_columns, "mean"),
                    **dict.fromkeys(count_columns, "sum")}
    table = work.groupby(groups, sort=False, dropna=False).agg(aggregations)
    table = table.reset_index()
    order = table["bpp"].fillna(np.inf)
    table = table.assign(_order=order).sort_values(["dataset", "codec", "_order", "quality"],
                                                   kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def drop_duplicate_keys(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the first row of each task key; returns the frame and how many were dropped."""
    duplicated = frame.duplicated(subset=list(KEY_COLUMNS), keep="first")
    return frame[~duplicated].reset_index(drop=True), int(duplicated.sum())


def format_table(table: pd.DataFrame, metric_names: Sequence[str], max_rows: int = 60) -> str:
    """A short plain-text leaderboard for the terminal."""
    if table.empty:
        return "(no results)"
    columns = ["dataset", "codec", "quality", "bpp", *metric_columns(metric_names), "encode_s",
               "decode_s", "n_images", "n_errors"]
    shown = table[columns].copy()
    for column in ("bpp", *metric_columns(metric_names)):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    for column in TIMING_COLUMNS:
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v * 1000:.1f}ms")
    text = shown.head(max_rows).to_string(index=False)
    if len(shown) > max_rows:
        text += f"\n... {len(shown) - max_rows} more rows in leaderboard.csv"
    return text
