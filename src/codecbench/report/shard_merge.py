"""Joining the shards of one run (``codecbench run --shard I/N``) into the whole run.

The inputs are the shards' run folders. They must be shards of the same run — the same
fingerprint but for ``shard`` (codecs and qualities, dataset name and content hash,
metric versions), the same ``N``, each index at most once, and the same version of every
codec — otherwise the merge is refused, naming the difference. Their stores are copied
into one new run folder (:meth:`~codecbench.harness.store.ResultsStore.absorb`: rows and
set-metric features), whose ``rows.csv`` and ``leaderboard.csv`` are written exactly as
``codecbench run`` writes them (:func:`~codecbench.harness.runner.write_exports`): with
every shard present, they equal those of the unsharded run. Missing shards are reported
and make the merged run ``incomplete``.
"""

from __future__ import annotations

import json
from pathlib import Path

from codecbench.api.atomic import atomic_write
from codecbench.harness.shards import Shard
from codecbench.harness.store import ResultsStore, StoreError


class ShardMergeError(ValueError):
    """The inputs are not the shards of one run (the message says why)."""


def is_shard_folder(path: Path) -> bool:
    """Whether ``path`` is the run folder of a ``--shard`` run."""
    record = _run_record(path, required=False)
    return bool(record and "shard" in record.get("fingerprint", {}))


def _run_record(path: Path, required: bool = True) -> dict | None:
    run_json = Path(path) / "run.json"
    try:
        return json.loads(run_json.read_text())
    except (OSError, ValueError) as exc:
        if required:
            raise ShardMergeError(f"{path}: no readable run.json ({exc})") from None
        return None


def _codec_versions(record: dict) -> dict[str, str]:
    return {codec["name"]: codec.get("version", "") for codec in record.get("codecs", [])}


def merge_shards(shard_dirs: list[Path], out_dir: Path) -> tuple[dict, list[str]]:
    """Merge ``shard_dirs`` into the new run folder ``out_dir``; returns its ``run.json``
    record and the findings (missing shards)."""
    records = [_run_record(path) for path in shard_dirs]
    assert all(record is not None for record in records)
    shards: dict[int, Path] = {}
    shard_records: dict[int, dict] = {}
    first = records[0] or {}
    base = {k: v for k, v in first.get("fingerprint", {}).items() if k != "shard"}
    count = None
    for path, record in zip(shard_dirs, records, strict=True):
        assert record is not None
        fingerprint = dict(record.get("fingerprint", {}))
        if "shard" not in fingerprint:
            raise ShardMergeError(f"{path} is not a shard (run without --shard)")
        shard = Shard.parse(fingerprint.pop("shard"))
        if fingerprint != base:
            changed = sorted(k for k in fingerprint.keys() | base.keys()
                             if fingerprint.get(k) != base.get(k))
            raise ShardMergeError(f"{path} is a shard of another run than {shard_dirs[0]} "
                                  f"(different {', '.join(changed)})")
        if count is not None and shard.count != count:
            raise ShardMergeError(f"{path} is shard {shard} but {shard_dirs[0]} is one of "
                                  f"{count}")
        count = shard.count
        if shard.index in shards:
            raise ShardMergeError(f"{path} and {shards[shard.index]} are both shard {shard}")
        if _codec_versions(record) != _codec_versions(first):
            raise ShardMergeError(f"{path} ran other codec versions than {shard_dirs[0]}")
        if record.get("status") == "running":
            raise ShardMergeError(f"{path} is still running (or was killed): resume it first")
        shards[shard.index] = path
        shard_records[shard.index] = record
    assert count is not None
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in shards]
    findings = [f"shards missing: {', '.join(missing)}"] if missing else []
    if Path(out_dir).exists() and any(Path(out_dir).iterdir()):
        raise ShardMergeError(f"{out_dir} exists and is not empty")
    from codecbench.harness.runner import write_exports

    with ResultsStore(out_dir) as merged:
        with ResultsStore.open_existing(shard_dirs[0]) as store:
            metric_names = store.get_meta("metrics") or []
            for key in ("dataset_hash", "metrics", "metric_versions"):
                merged.set_meta(key, store.get_meta(key))
        merged.set_meta("shard", "all")
        for index in sorted(shards):
            try:
                with ResultsStore.open_existing(shards[index]) as store:
                    merged.absorb(store)
            except StoreError as exc:
                raise ShardMergeError(str(exc)) from None
        write_exports(merged, metric_names)
        rows, errors = merged.count()
        incomplete = bool(missing) or any((r or {}).get("status") != "complete"
                                          for r in records)
    record = {k: v for k, v in first.items() if k not in ("executor", "invocations")}
    record.update(fingerprint=base, status="incomplete" if incomplete else "complete",
                  rows=rows, errors=errors,
                  shards=[{"shard": f"{index}/{count}", "folder": str(shards[index]),
                           **{key: shard_records[index].get(key)
                              for key in ("status", "executor", "hardware")}}
                          for index in sorted(shards)])
    atomic_write(Path(out_dir) / "run.json", json.dumps(record, indent=2, default=str) + "\n")
    return record, findings
