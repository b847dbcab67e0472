"""``codecbench leaderboard merge``: one table from leaderboards made on several machines.

Rows are stacked, never averaged across inputs: each keeps a ``source`` (the file it came
from) and, when a ``run.json`` sits next to it, ``source_machine`` (CPU, cores, GPUs) — the
provenance travels with the numbers. What would be silently wrong to compare is flagged in
a ``conflict`` column and returned as a list:

* the same codec name with different ``codec_version`` values (other library, weights or
  settings), per dataset;
* the same dataset name with different ``dataset_hash`` values (other images);
* the same row (dataset, hash, codec, version, quality) in more than one input: the first
  is kept, the others are dropped and reported.

Inputs are read as :func:`~codecbench.report.validate.read_csv_text` reads
them (UTF-8, no ragged rows) and written with
:func:`~codecbench.harness.csv_export.write_csv`: numbers as numbers, text cells as they were
(already neutralised ones unchanged). Columns one input lacks (a metric it did not
compute, with its ``n_<metric>``) are empty in its rows. A ``rows.csv`` is refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from codecbench.harness.schema import CSV_SCHEMA_VERSION
from codecbench.report.validate import (
    LEADERBOARD_KEY,
    TEXT_COLUMNS,
    CsvReadError,
    is_number_text,
    read_csv_text,
)

MERGE_COLUMNS = ("source", "source_machine", "conflict")


class MergeError(ValueError):
    """An input cannot be merged (message names the file and why)."""


def _machine(csv_path: Path) -> str:
    run_json = csv_path.parent / "run.json"
    if not run_json.is_file():
        return ""
    try:
        hardware = json.loads(run_json.read_text()).get("hardware", {})
    except (OSError, json.JSONDecodeError):
        return ""
    gpus = ", ".join(str(g) for g in hardware.get("gpus") or []) or "no GPU"
    return f"{hardware.get('cpu', '?')} × {hardware.get('cpu_count', '?')}, {gpus}"


def read_leaderboard(path: Path) -> pd.DataFrame:
    """A leaderboard CSV (or a run folder's) with its provenance columns."""
    path = Path(path)
    if path.is_dir():
        path = path / "leaderboard.csv"
    try:
        frame = _typed(read_csv_text(path))
    except CsvReadError as exc:
        raise MergeError(f"{path}: cannot read ({exc})") from None
    if "image_id" in frame.columns:
        raise MergeError(f"{path}: a rows.csv (one row per image), not a leaderboard; merge "
                         "the leaderboard.csv files")
    if "schema_version" not in frame.columns:
        raise MergeError(f"{path}: no schema_version column (written before schema "
                         f"{CSV_SCHEMA_VERSION}); re-export it with 'codecbench leaderboard'")
    versions = set(frame["schema_version"].astype(str))
    if versions != {str(CSV_SCHEMA_VERSION)}:
        raise MergeError(f"{path}: schema {', '.join(sorted(versions))}, this codecbench "
                         f"merges schema {CSV_SCHEMA_VERSION}")
    frame["source"] = str(path)
    frame["source_machine"] = _machine(path)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (all text) with every column outside the text columns whose non-empty
    cells are all numbers as numbers (empty cells: ``nan``); text and other columns stay
    as written, so that the merged file holds exactly what the inputs held."""
    typed = {}
    for column in frame.columns:
        cells = frame[column]
        filled = cells[cells != ""]
        if column in TEXT_COLUMNS or not filled.map(is_number_text).all():
            typed[column] = cells
        else:
            typed[column] = pd.to_numeric(cells.replace("", math.nan))
    return pd.DataFrame(typed, index=frame.index)


def merge_leaderboards(paths) -> tuple[pd.DataFrame, list[str]]:
    """``(merged, findings)``: the stacked leaderboards and what was flagged or dropped."""
    frames = [read_leaderboard(Path(p)) for p in paths]
    merged = pd.concat(frames, ignore_index=True, sort=False)
    findings = []
    duplicated = merged.duplicated(subset=list(LEADERBOARD_KEY), keep="first")
    for _, row in merged[duplicated].iterrows():
        findings.append(f"dropped {row['codec']} q{row['quality']} on {row['dataset']} from "
                        f"{row['source']}: the same row came from an earlier input")
    merged = merged[~duplicated].reset_index(drop=True)
    conflicts = [""] * len(merged)
    for (dataset, codec), group in merged.groupby(["dataset", "codec"], sort=True):
        versions = sorted(set(group["codec_version"]))
        if len(versions) > 1:
            text = f"codec {codec} has {len(versions)} versions on {dataset}"
            findings.append(f"{text}: {' | '.join(versions)} (kept apart, not averaged)")
            for index in group.index:
                conflicts[index] = text
    for dataset, group in merged.groupby("dataset", sort=True):
        hashes = sorted(set(group["dataset_hash"]))
        if len(hashes) > 1:
            text = f"dataset {dataset} has {len(hashes)} contents (hashes)"
            findings.append(f"{text}: {' | '.join(hashes)} (kept apart, not averaged)")
            for index in group.index:
                conflicts[index] = "; ".join(filter(None, (conflicts[index], text)))
    merged["conflict"] = conflicts
    return merged, findings
