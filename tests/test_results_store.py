"""The results store: rows committed in batches, each row all or nothing, never an fsync."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import codecbench.harness.store as store_module
from codecbench.harness.schema import ResultRow
from codecbench.harness.store import ResultsStore

pytestmark = pytest.mark.no_frameworks


def _row(image_id: str, **fields) -> ResultRow:
    return ResultRow(codec="c", quality="1", dataset="d", image_id=image_id, **fields)


def _committed(store: ResultsStore) -> list[str]:
    """The image ids another connection (another process, a rerun) sees."""
    with sqlite3.connect(store.path) as reader:
        return sorted(r[0] for r in reader.execute("SELECT image_id FROM rows"))


def test_rows_are_committed_in_batches_and_when_the_store_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMMIT_INTERVAL_S", 3600.0)
    store = ResultsStore(tmp_path)
    store.add(_row("a"))
    store.add(_row("b"))
    assert _committed(store) == []  # one open batch
    assert {key[3] for key in store.done_keys()} == {"a", "b"}  # the run sees its rows
    monkeypatch.setattr(store_module, "COMMIT_INTERVAL_S", 0.0)
    store.add(_row("c"))  # the interval has passed: the batch is committed
    assert _committed(store) == ["a", "b", "c"]
    monkeypatch.setattr(store_module, "COMMIT_INTERVAL_S", 3600.0)
    store.add(_row("d"))
    store.close()
    assert _committed(store) == ["a", "b", "c", "d"]


def test_a_row_that_fails_to_store_leaves_the_rest_of_its_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMMIT_INTERVAL_S", 3600.0)
    store = ResultsStore(tmp_path)
    store.add(_row("a"))
    features = {"fid": (np.zeros((1, 2)), object())}  # the second array cannot be stored
    with pytest.raises(TypeError):
        store.add(_row("b", set_features=features))
    store.close()
    assert _committed(store) == ["a"]
    with sqlite3.connect(store.path) as reader:
        assert reader.execute("SELECT COUNT(*) FROM set_features").fetchone()[0] == 0


def test_the_store_journals_ahead_and_never_waits_for_the_disk(tmp_path):
    """Durable against the death of the process (a committed row is the operating
    system's), not against a power loss: no fsync (``synchronous = OFF``)."""
    with ResultsStore(tmp_path) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 0
