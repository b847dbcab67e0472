"""``codecbench leaderboard validate``: is a CSV someone sent a sound codecbench export?

Checks, each reported with the row (1-based data row, as a spreadsheet shows it after the
header) and column:

* schema: the ``schema_version`` column exists and is :data:`CSV_SCHEMA_VERSION`; every
  required column of a leaderboard (or of a ``rows.csv``, recognised by ``image_id``) is
  there;
* types: measurement columns are numbers (empty allowed), counts are whole numbers;
* duplicates: one row per dataset × dataset hash × codec × codec version × quality
  (leaderboard) or per codec × quality × dataset × image (rows);
* impossible values: negative bpp, bytes, counts or times; PSNR above 100 dB on a lossy
  row (lossless rows are ``inf``); SSIM and MS-SSIM outside [0, 1];
* formula injection: text cells a spreadsheet would run as a formula (starting with
  ``=``, ``+``, ``-``, ``@``, tab or CR and not neutralised with a leading ``'``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codecbench.core.csv_export import FORMULA_TRIGGERS
from codecbench.core.results_schema import CSV_SCHEMA_VERSION, KEY_COLUMNS

LEADERBOARD_REQUIRED = ("schema_version", "dataset_hash", "dataset", "codec", "codec_version",
                        "framework", "family", "quality", "bytes", "bpp", "encode_s",
                        "decode_s", "n_images", "n_errors")
ROWS_REQUIRED = ("schema_version", "dataset_hash", "codec", "codec_version", "framework",
                 "family", "quality", "dataset", "image_id", "width", "height", "bytes", "bpp",
                 "encode_s", "decode_s", "error")
LEADERBOARD_KEY = ("dataset", "dataset_hash", "codec", "codec_version", "quality")
TEXT_COLUMNS = {"dataset_hash", "dataset", "codec", "codec_version", "framework", "family",
                "quality", "image_id", "error", "source", "conflict", "source_machine"}
LEADERBOARD_COUNTS = ("n_images", "n_errors", "schema_version")
ROWS_COUNTS = ("width", "height", "bytes", "schema_version")  # leaderboard bytes are means
NON_NEGATIVE = ("bpp", "bytes", "encode_s", "decode_s", "n_images", "n_errors", "width",
                "height", "bpp-estimate")
PSNR_COLUMNS = ("psnr", "psnr-y")
UNIT_INTERVAL = ("ssim", "ms-ssim")
MAX_LOSSY_PSNR = 100.0


@dataclass(frozen=True)
class Problem:
    """One finding: where (row, column; ``None`` for the whole file) and what."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'file'}: {self.message}"


def read_csv_text(path: Path) -> pd.DataFrame:
    """The CSV with every cell as text (so that checks see what was written)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def validate_frame(frame: pd.DataFrame) -> list[Problem]:
    """Every problem of a leaderboard or rows CSV read with :func:`read_csv_text`."""
    problems: list[Problem] = []
    kind_rows = "image_id" in frame.columns
    required = ROWS_REQUIRED if kind_rows else LEADERBOARD_REQUIRED
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(Problem(None, None, f"missing column(s) {', '.join(missing)} "
                                f"(a codecbench {'rows' if kind_rows else 'leaderboard'} CSV "
                                f"of schema {CSV_SCHEMA_VERSION} has them)"))
    if "schema_version" in frame.columns:
        versions = sorted(set(frame["schema_version"]) - {str(CSV_SCHEMA_VERSION)})
        if versions:
            problems.append(Problem(None, "schema_version", f"schema {', '.join(versions)}; "
                                    f"this codecbench reads {CSV_SCHEMA_VERSION}"))
    numbers = {}
    for column in frame.columns:
        if column in TEXT_COLUMNS:
            continue
        parsed = pd.to_numeric(frame[column].replace("", math.nan), errors="coerce")
        bad = parsed.isna() & (frame[column] != "")
        for index in frame.index[bad][:5]:
            problems.append(Problem(index + 1, column,
                                    f"{frame.at[index, column]!r} is not a number"))
        numbers[column] = parsed
    for column in ROWS_COUNTS if kind_rows else LEADERBOARD_COUNTS:
        if column in numbers:
            values = numbers[column]
            fractional = values.notna() & (values != values.round())
            for index in frame.index[fractional][:5]:
                problems.append(Problem(index + 1, column, "not a whole number"))
    problems += _impossible_values(frame, numbers)
    key = [c for c in (KEY_COLUMNS if kind_rows else LEADERBOARD_KEY) if c in frame.columns]
    duplicated = frame.duplicated(subset=key, keep="first")
    for index in frame.index[duplicated][:10]:
        problems.append(Problem(index + 1, None, "duplicate of an earlier row "
                                f"(same {', '.join(key)})"))
    for column in frame.columns:
        if column not in TEXT_COLUMNS:
            continue
        risky = frame[column].map(lambda v: v.startswith(FORMULA_TRIGGERS))
        for index in frame.index[risky][:5]:
            problems.append(Problem(index + 1, column, f"{frame.at[index, column]!r} would run "
                                    "as a formula in a spreadsheet (not neutralised)"))
    return problems


def _impossible_values(frame: pd.DataFrame, numbers: dict) -> list[Problem]:
    problems = []
    for column in NON_NEGATIVE:
        if column in numbers:
            for index in frame.index[numbers[column] < 0][:5]:
                problems.append(Problem(index + 1, column,
                                        f"negative value {frame.at[index, column]}"))
    for column in PSNR_COLUMNS:
        if column in numbers:
            values = numbers[column]
            too_high = values.notna() & (values > MAX_LOSSY_PSNR) & (values != math.inf)
            for index in frame.index[too_high][:5]:
                problems.append(Problem(index + 1, column, f"{frame.at[index, column]} dB on a "
                                        f"lossy row (above {MAX_LOSSY_PSNR:g} dB is impossible "
                                        "for 8-bit images; lossless rows are inf)"))
    for column in UNIT_INTERVAL:
        if column in numbers:
            values = numbers[column]
            outside = values.notna() & ((values < 0) | (values > 1))
            for index in frame.index[outside][:5]:
                problems.append(Problem(index + 1, column,
                                        f"{frame.at[index, column]} is outside [0, 1]"))
    return problems


def validate_file(path: Path) -> list[Problem]:
    """:func:`validate_frame` of a CSV file (unreadable files are one problem)."""
    try:
        frame = read_csv_text(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        return [Problem(None, None, f"cannot read as CSV: {exc}")]
    return validate_frame(frame)
