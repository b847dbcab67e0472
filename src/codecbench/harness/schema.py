"""The one results schema: what a result row is, and the columns of the CSV exports.

``rows.csv`` has one row per codec × quality × image::

    schema_version, dataset_hash, codec, codec_version, framework, family, quality, dataset, image_id,
    width, height, bytes, bpp, <one column per metric>, encode_s, decode_s, error,
    metric_errors

``leaderboard.csv`` has one row per dataset × codec × quality (``schema_version,
dataset_hash, dataset, codec, codec_version, framework, family, quality, …``): the arithmetic
mean of ``bytes``, ``bpp``, every metric, ``encode_s`` and ``decode_s`` over
the images without error, with ``n_images`` (rows without error), ``n_errors`` and, per
metric, ``n_<metric>``: the number of images its mean was taken over (fewer than
``n_images`` where the metric failed or did not apply on some images).

A row with a non-empty ``error`` (the task failed: encode, decode, a worker) holds no
measurement: its numeric cells are empty. A metric that fails on an image costs only its
own cell: the message goes to ``metric_errors``, a JSON object ``{"metric": "message"}``
(``{}`` or empty when none failed), and ``bytes``, ``bpp`` and the other metrics stay.
``bpp = 8 × bytes / (width × height)`` always, computed by :func:`bits_per_pixel`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from codecbench.api.codec import bits_per_pixel
from codecbench.harness.table import Table

SCHEMA_VERSION = 1
"""Version of the results store (SQLite) layout."""
CSV_SCHEMA_VERSION = 3
"""Version of the exported CSV layout, in every row's ``schema_version`` cell (2 added
``schema_version`` and ``dataset_hash``, 3 ``metric_errors`` in rows and ``n_<metric>`` in
leaderboards; CSVs without the column are version 1)."""
PROVENANCE_COLUMNS = ("schema_version", "dataset_hash")

KEY_COLUMNS = ("codec", "quality", "dataset", "image_id")
"""The identity of a task: a results store holds at most one row per key."""

LEADING_COLUMNS = (
    "codec",
    "codec_version",
    "framework",
    "family",
    "quality",
    "dataset",
    "image_id",
    "width",
    "height",
    "bytes",
    "bpp",
)
TRAILING_COLUMNS = ("encode_s", "decode_s", "error", "metric_errors")
GROUP_COLUMNS = ("dataset", "codec", "codec_version", "framework", "family", "quality")
COUNT_COLUMNS = ("n_images", "n_errors")
METRIC_COUNT_PREFIX = "n_"


def metric_count_column(metric: str) -> str:
    """``n_<metric>``: how many images a leaderboard mean of ``metric`` was taken over."""
    return METRIC_COUNT_PREFIX + metric


def with_provenance(table: Table, dataset_hash: str) -> Table:
    """``table`` with the :data:`PROVENANCE_COLUMNS` first (a copy)."""
    rest = table.select([c for c in table.columns if c not in PROVENANCE_COLUMNS])
    return (rest.with_column(0, "dataset_hash", dataset_hash or "")
            .with_column(0, "schema_version", CSV_SCHEMA_VERSION))


def metric_columns(metric_names) -> list[str]:
    """Metric columns of ``rows.csv``: every metric not already a fixed column, in order."""
    fixed = set(LEADING_COLUMNS) | set(TRAILING_COLUMNS)
    return [name for name in metric_names if name not in fixed]


def row_columns(metric_names) -> list[str]:
    """All columns of ``rows.csv``, in order."""
    return [*LEADING_COLUMNS, *metric_columns(metric_names), *TRAILING_COLUMNS]


@dataclass
class ResultRow:
    """One evaluated (or failed) codec × quality × image task."""

    codec: str
    quality: str
    dataset: str
    image_id: str
    codec_version: str = ""
    framework: str = ""
    family: str = ""
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    encode_s: float | None = None
    decode_s: float | None = None
    error: str = ""
    metric_errors: dict[str, str] = field(default_factory=dict)
    """Per-metric failures of a measured row: ``{metric name: message}``."""
    set_features: dict = field(default_factory=dict, repr=False, compare=False)
    """Set metrics' ``(original, reconstruction)`` features (stored, not a CSV column)."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.codec, self.quality, self.dataset, self.image_id)

    @property
    def bpp(self) -> float | None:
        if self.error or self.bytes is None or not self.width or not self.height:
            return None
        return bits_per_pixel(self.bytes, self.width, self.height)

    def as_record(self, metric_names) -> dict[str, object]:
        """The row as a ``rows.csv`` record (error rows carry no measurement)."""
        failed = bool(self.error)
        record: dict[str, object] = {
            "codec": self.codec,
            "codec_version": self.codec_version,
            "framework": self.framework,
            "family": self.family,
            "quality": self.quality,
            "dataset": self.dataset,
            "image_id": self.image_id,
            "width": self.width,
            "height": self.height,
            "bytes": None if failed else self.bytes,
            "bpp": self.bpp,
        }
        for name in metric_columns(metric_names):
            value = self.metrics.get(name)
            record[name] = None if failed or value is None else float(value)
        record["encode_s"] = None if failed else self.encode_s
        record["decode_s"] = None if failed else self.decode_s
        record["error"] = self.error
        record["metric_errors"] = (
            "" if failed or not self.metric_errors
            else json.dumps(self.metric_errors, ensure_ascii=False, sort_keys=True))
        return record


def quality_sort_key(quality: str) -> tuple[int, float, str]:
    """Sort quality texts numerically when they are numbers (``"5"`` before ``"10"``)."""
    try:
        return (0, float(quality), quality)
    except ValueError:
        return (1, 0.0, quality)
