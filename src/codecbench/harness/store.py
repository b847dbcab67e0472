"""The results store: an embedded SQLite database in the run directory.

Finished tasks are committed in batches at most :data:`COMMIT_INTERVAL_S` apart (WAL
journal; one transaction per batch instead of one per row), so a run killed with SIGKILL
loses only the tasks in flight and those of the last quarter of a second; the same
command resumes and computes only the missing keys. The primary key ``(codec, quality,
dataset, image_id)`` makes duplicate rows impossible.

Durability is that of every file codecbench writes (:mod:`codecbench.api.atomic`): a
committed row survives the death of the process, however it dies, because SQLite has
handed it to the operating system; the store never waits for the disk (``synchronous =
OFF``: no fsync, which costs milliseconds per commit and per checkpoint on some
disks), so an operating-system crash or a power loss can lose or damage the store, and
the run is then made again in a new directory.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

import numpy as np

from codecbench.harness.schema import SCHEMA_VERSION, ResultRow, quality_sort_key

DB_FILENAME = "results.sqlite"

_CREATE = """
CREATE TABLE IF NOT EXISTS rows (
    codec TEXT NOT NULL,
    quality TEXT NOT NULL,
    dataset TEXT NOT NULL,
    image_id TEXT NOT NULL,
    codec_version TEXT NOT NULL,
    framework TEXT NOT NULL,
    family TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    bytes INTEGER,
    metrics TEXT NOT NULL,
    encode_s REAL,
    decode_s REAL,
    error TEXT NOT NULL,
    metric_errors TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (codec, quality, dataset, image_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS set_features (
    codec TEXT NOT NULL,
    quality TEXT NOT NULL,
    dataset TEXT NOT NULL,
    image_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    original BLOB NOT NULL,
    reconstruction BLOB NOT NULL,
    PRIMARY KEY (codec, quality, dataset, image_id, metric)
);
"""

_FIELDS = (
    "codec",
    "quality",
    "dataset",
    "image_id",
    "codec_version",
    "framework",
    "family",
    "width",
    "height",
    "bytes",
    "metrics",
    "encode_s",
    "decode_s",
    "error",
    "metric_errors",
)


COMMIT_INTERVAL_S = 0.25
"""Rows are committed in batches at most this far apart: a run killed with ``kill -9``
loses at most this much work, which the same command computes again."""


class StoreError(RuntimeError):
    """The run directory holds a results store this version cannot use."""


class ResultsStore:
    """Rows of one run directory, persisted as tasks finish."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_FILENAME
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._committed_at = time.monotonic()
        self._db.execute("PRAGMA synchronous=OFF")  # before WAL: no fsync when switching
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_CREATE)
        columns = {info[1] for info in self._db.execute("PRAGMA table_info(rows)")}
        if "metric_errors" not in columns:  # stores written before per-metric errors
            with self._db:
                self._db.execute(
                    "ALTER TABLE rows ADD COLUMN metric_errors TEXT NOT NULL DEFAULT '{}'")
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} uses results schema {version}; this codecbench writes {SCHEMA_VERSION}"
            )

    @classmethod
    def open_existing(cls, run_dir: str | Path) -> ResultsStore:
        """Open the store of a finished or interrupted run; error if there is none."""
        if not (Path(run_dir) / DB_FILENAME).is_file():
            raise StoreError(f"{run_dir} is not a codecbench run directory (no {DB_FILENAME})")
        return cls(run_dir)

    def close(self) -> None:
        self._db.commit()
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------------

    def get_meta(self, key: str):
        cur = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,))
        found = cur.fetchone()
        return None if found is None else json.loads(found[0])

    def set_meta(self, key: str, value) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    # -- rows --------------------------------------------------------------------

    def add(self, row: ResultRow) -> None:
        """Persist one row now (replacing an earlier row with the same key)."""
        values = (
            row.codec,
            row.quality,
            row.dataset,
            row.image_id,
            row.codec_version,
            row.framework,
            row.family,
            row.width,
            row.height,
            row.bytes,
            json.dumps(row.metrics),
            row.encode_s,
            row.decode_s,
            row.error,
            json.dumps(row.metric_errors),
        )
        # the row and its set-metric features: all or nothing (a savepoint in the batch's
        # transaction; without an open transaction, releasing it would commit the row)
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        self._db.execute("SAVEPOINT row")
        try:
            self._db.execute(
                f"INSERT OR REPLACE INTO rows ({', '.join(_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(_FIELDS))})",
                values,
            )
            self._db.execute(
                "DELETE FROM set_features WHERE codec = ? AND quality = ? AND dataset = ? "
                "AND image_id = ?", row.key)
            for metric, (original, reconstruction) in row.set_features.items():
                self._db.execute(
                    "INSERT INTO set_features VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*row.key, metric, _array_bytes(original), _array_bytes(reconstruction)))
        except BaseException:
            self._db.execute("ROLLBACK TO row")
            self._db.execute("RELEASE row")
            raise
        self._db.execute("RELEASE row")
        if time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S:
            self.commit()

    def commit(self) -> None:
        """Make the rows added so far durable (``add`` does it at most
        :data:`COMMIT_INTERVAL_S` apart; closing the store does it too)."""
        self._db.commit()
        self._committed_at = time.monotonic()

    def absorb(self, other: ResultsStore) -> int:
        """Copy every row (and its set-metric features) of ``other``, a store of the same
        schema, into this one in one transaction; returns how many rows. Keys already here
        are refused (``StoreError``): shards of one run never share a task."""
        clash = self.done_keys() & other.done_keys()
        if clash:
            raise StoreError(f"{other.run_dir} repeats {len(clash)} tasks of the stores "
                             f"merged before it (e.g. {sorted(clash)[0]})")
        self._db.execute("ATTACH DATABASE ? AS other", (str(other.path),))
        try:
            with self._db:
                rows = self._db.execute(
                    f"INSERT INTO rows ({', '.join(_FIELDS)}) "
                    f"SELECT {', '.join(_FIELDS)} FROM other.rows").rowcount
                self._db.execute("INSERT INTO set_features SELECT * FROM other.set_features")
        finally:
            self._db.execute("DETACH DATABASE other")
        return rows

    def done_keys(self) -> set[tuple[str, str, str, str]]:
        cur = self._db.execute("SELECT codec, quality, dataset, image_id FROM rows")
        return {tuple(r) for r in cur}

    def delete_errors(self) -> int:
        """Forget error rows (and rows with a failed metric) so that their tasks run again;
        returns how many."""
        with self._db:
            return self._db.execute(
                "DELETE FROM rows WHERE error != '' OR metric_errors NOT IN ('{}', '')").rowcount

    def codec_versions(self) -> dict[str, set[str]]:
        versions: dict[str, set[str]] = {}
        for codec, version in self._db.execute("SELECT DISTINCT codec, codec_version FROM rows"):
            versions.setdefault(codec, set()).add(version)
        return versions

    def rows(self) -> list[ResultRow]:
        cur = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM rows")
        result = []
        for values in cur:
            fields = dict(zip(_FIELDS, values, strict=True))
            fields["metrics"] = json.loads(fields["metrics"])
            fields["metric_errors"] = json.loads(fields["metric_errors"] or "{}")
            result.append(ResultRow(**fields))
        result.sort(key=lambda r: (r.dataset, r.codec, r.image_id, *quality_sort_key(r.quality)))
        return result

    def set_features(self, metric: str) -> dict[tuple[str, str, str], tuple[list, list]]:
        """``{(dataset, codec, quality): ([original features…], [reconstruction features…])}``
        of a set metric, over the rows without error."""
        cur = self._db.execute(
            "SELECT f.dataset, f.codec, f.quality, f.original, f.reconstruction "
            "FROM set_features f JOIN rows r ON r.codec = f.codec AND r.quality = f.quality "
            "AND r.dataset = f.dataset AND r.image_id = f.image_id "
            "WHERE f.metric = ? AND r.error = '' ORDER BY f.image_id", (metric,))
        groups: dict[tuple[str, str, str], tuple[list, list]] = {}
        for dataset, codec, quality, original, reconstruction in cur:
            real, fake = groups.setdefault((dataset, codec, quality), ([], []))
            real.append(_array_from_bytes(original))
            fake.append(_array_from_bytes(reconstruction))
        return groups

    def count(self) -> tuple[int, int]:
        """``(rows, error rows)``."""
        cur = self._db.execute("SELECT COUNT(*), COALESCE(SUM(error != ''), 0) FROM rows")
        total, errors = cur.fetchone()
        return int(total), int(errors)

    def count_metric_errors(self) -> int:
        """Measured rows with at least one failed metric."""
        cur = self._db.execute(
            "SELECT COUNT(*) FROM rows WHERE error = '' AND metric_errors NOT IN ('{}', '')")
        return int(cur.fetchone()[0])


def _array_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def _array_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
