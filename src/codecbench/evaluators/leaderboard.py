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
    if frame.empty:
        return pd.DataFrame(columns=[*GROUP_COLUMNS, *value_columns, *COUNT_COLUMNS])
    work = frame.copy()
    work["_failed"] = work["error"] != ""
    work[value_columns] = work[value_columns].astype("float64")
    # The first two group columns identify the curve; the other descriptive ones are constant
    # within it when the run is consistent (the harness refuses mixed codec versions).
    grouped = work.groupby(list(GROUP_COLUMNS), sort=False, dropna=False)
    ok = work[~work["_failed"]].groupby(list(GROUP_COLUMNS), sort=False, dropna=False)
    means = ok[value_columns].mean()
    counts = pd.DataFrame(
        {
            "n_images": ok.size(),
        }
    )
    table = grouped["_failed"].sum().rename("n_errors").to_frame()
    table = table.join(means, how="left").join(counts, how="left")
    table["n_images"] = table["n_images"].fillna(0).astype(int)
    table["n_errors"] = table["n_errors"].astype(int)
    table = table.reset_index()[[*GROUP_COLUMNS, *value_columns, *COUNT_COLUMNS]]
    table["_order"] = table["bpp"].fillna(np.inf)
    table = table.sort_values(["dataset", "codec", "_order", "quality"], kind="stable")
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
