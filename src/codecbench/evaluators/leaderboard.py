"""Aggregation of result rows into the leaderboard (means per dataset × codec × quality)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from codecbench.core.results_schema import (
    COUNT_COLUMNS,
    GROUP_COLUMNS,
    KEY_COLUMNS,
    ResultRow,
    metric_columns,
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
    return frame


def aggregate(frame: pd.DataFrame, metric_names: Sequence[str]) -> pd.DataFrame:
    """Mean of every measurement per dataset × codec × quality over rows without error.

    Columns: ``dataset, codec, codec_version, framework, family, quality``,
    the means of ``bytes``, ``bpp``, every metric, ``encode_s``, ``decode_s``,
    then ``n_images`` (rows without error) and ``n_errors``. Rows are sorted
    by dataset, codec and mean bpp (the order of a rate-distortion curve).
    """
    value_columns = [*MEASURED_COLUMNS, *metric_columns(metric_names), *TIMING_COLUMNS]
    # rows of one dataset name but different contents (hashes) are never averaged together
    groups = ["dataset_hash", *GROUP_COLUMNS] if "dataset_hash" in frame else list(GROUP_COLUMNS)
    if frame.empty:
        return pd.DataFrame(columns=[*groups, *value_columns, *COUNT_COLUMNS])
    work = frame[[*groups, *value_columns]].astype(dict.fromkeys(value_columns, "float64"))
    work["n_errors"] = (frame["error"] != "").astype(int)
    work["n_images"] = 1 - work["n_errors"]
    # Error rows hold no measurement (NaN), so the means are over the rows without error.
    aggregations = {**dict.fromkeys(value_columns, "mean"), "n_images": "sum", "n_errors": "sum"}
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
