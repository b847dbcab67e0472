"""The harness: evaluates codecs × quality points × dataset images × metrics.

A run lives in a directory::

    results.sqlite    every finished task, committed as it finishes (resume source)
    rows.csv          one row per codec × quality × image        (written at the end)
    leaderboard.csv   means per dataset × codec × quality        (written at the end)
    run.json          provenance: versions, plugins, hardware, dataset hash, commands,
                      status (running, complete, incomplete, interrupted)
    run.lock          held (an OS file lock) by the process running it

Running again on the same directory computes only the tasks missing from
``results.sqlite``. The run refuses to mix results: a different dataset hash,
a different metric list or a different codec version in the same directory is
an error naming the difference.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.atomic import atomic_write
from codecbench.api.capabilities import FileRecord
from codecbench.api.codec import Codec, find_quality, quality_key
from codecbench.api.dataset import Dataset
from codecbench.api.metric import Metric
from codecbench.harness import provenance
from codecbench.harness.aggregate import aggregate, rows_table
from codecbench.harness.csv_export import write_csv
from codecbench.harness.executors import Executor, make_executor
from codecbench.harness.prefetch import images_ahead
from codecbench.harness.progress import progress_bar
from codecbench.harness.run_lock import RunLock
from codecbench.harness.schema import SCHEMA_VERSION, ResultRow, with_provenance
from codecbench.harness.set_metrics import set_metric_values, with_set_metrics
from codecbench.harness.shards import Shard
from codecbench.harness.store import ResultsStore
from codecbench.harness.table import Table
from codecbench.harness.task import Task, describe_error

if TYPE_CHECKING:
    import pandas as pd

RUN_JSON = "run.json"
ROWS_CSV = "rows.csv"
LEADERBOARD_CSV = "leaderboard.csv"


class RunConfigError(ValueError):
    """The run cannot start: bad selection, or a run directory holding other results."""


@dataclass
class CodecPlan:
    """One codec to evaluate, its quality points, and why it cannot run (if so)."""

    codec: Codec
    qualities: list
    version: str = ""
    problem: str = ""


@dataclass
class RunSummary:
    """What a run did."""

    run_dir: Path
    tasks_total: int
    tasks_computed: int
    rows: int
    errors: int
    table: Table = field(repr=False)
    """The leaderboard, as written to ``leaderboard.csv``."""
    metric_names: list[str] = field(default_factory=list)
    metric_error_rows: int = 0
    """Rows measured but with at least one failed metric."""
    missing: int = 0
    """Planned tasks without a stored row (0 when the run is complete)."""

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The leaderboard as a DataFrame (imports pandas)."""
        from codecbench.harness.frames import frame_of

        return frame_of(self.table)

    @property
    def ok(self) -> bool:
        """Every planned task stored, without error, every metric computed."""
        return not (self.errors or self.metric_error_rows or self.missing)


def plan_codecs(codecs: Sequence[Codec], qualities: Sequence[str] | None) -> list[CodecPlan]:
    """Quality points per codec; ``qualities`` (canonical text) restricts every codec.

    A requested quality that no selected codec offers is an error listing what they offer.
    """
    plans = []
    used: set[str] = set()
    for codec in codecs:
        if qualities:
            chosen = []
            for text in qualities:
                try:
                    chosen.append(find_quality(codec, text))
                    used.add(text)
                except ValueError:
                    continue
        else:
            chosen = list(codec.qualities)
        plan = CodecPlan(codec, chosen)
        available, reason = codec.availability()
        if not available:
            plan.problem = f"codec unavailable: {reason}"
        else:
            try:
                plan.version = str(codec.version)
            except Exception as exc:  # noqa: BLE001 - becomes error rows
                plan.problem = describe_error("codec version", exc)
        plans.append(plan)
    if qualities:
        unused = [q for q in qualities if q not in used]
        if unused:
            offered = "; ".join(
                f"{c.name}: {', '.join(quality_key(q) for q in c.qualities)}" for c in codecs
            )
            raise RunConfigError(f"no selected codec has quality {', '.join(unused)}; offered: {offered}")
    return plans


def metric_versions(metrics: Sequence[Metric]) -> dict[str, str]:
    """``{metric name: version}``: part of what makes two runs' values comparable."""
    return {m.name: str(m.version) for m in metrics}


def run_fingerprint(plans, dataset_name: str, dataset_hash: str, metrics: Sequence[Metric],
                    shard: Shard | None = None) -> dict:
    """What makes two invocations 'the same run' (used to find a run to resume; the shards
    of one run differ only in ``shard``)."""
    fingerprint = {
        "codecs": {p.codec.name: [quality_key(q) for q in p.qualities] for p in plans},
        "dataset": dataset_name,
        "dataset_hash": dataset_hash,
        "metrics": metric_versions(metrics),
    }
    if shard is not None:
        fingerprint["shard"] = str(shard)
    return fingerprint


def _check_compatible(store: ResultsStore, plans, dataset: Dataset, dataset_hash,
                      metrics: Sequence[Metric]):
    metric_names = [m.name for m in metrics]
    stored_hash = store.get_meta("dataset_hash")
    if stored_hash is not None and stored_hash != dataset_hash:
        raise RunConfigError(
            f"{store.run_dir} holds results for dataset hash {stored_hash}, but dataset "
            f"{dataset.name!r} now hashes to {dataset_hash}; use a new --out directory"
        )
    stored_metrics = store.get_meta("metrics")
    if stored_metrics is not None and stored_metrics != list(metric_names):
        raise RunConfigError(
            f"{store.run_dir} was run with metrics {stored_metrics}, not {list(metric_names)}; "
            "use the same --metric options or a new --out directory"
        )
    stored_metric_versions = store.get_meta("metric_versions")
    if stored_metric_versions is not None:
        changed = [f"{name} {stored_metric_versions[name]!r} → {version!r}"
                   for name, version in metric_versions(metrics).items()
                   if name in stored_metric_versions and stored_metric_versions[name] != version]
        if changed:
            raise RunConfigError(
                f"{store.run_dir} holds values of other metric versions ({'; '.join(changed)}); "
                "use a new --out directory"
            )
    stored_versions = store.codec_versions()
    for plan in plans:
        old = stored_versions.get(plan.codec.name, set()) - {plan.version, ""}
        if plan.version and old:
            raise RunConfigError(
                f"{store.run_dir} holds results of codec {plan.codec.name!r} version "
                f"{sorted(old)}, but the installed version is {plan.version!r}; "
                "use a new --out directory"
            )


def _tasks(plans, dataset: Dataset, dataset_name: str, metrics, done: set, planned: set,
           load_images: bool = True) -> tuple[int, Iterator]:
    """Count the missing tasks (``planned`` ones not ``done``), and a generator producing
    them image by image (rows and tasks carry the run's ``dataset_name``).

    Images are loaded only when one of their tasks is missing, one ahead of the tasks
    (:mod:`.prefetch`), and, with ``load_images`` false, not here but where the task runs,
    from ``task.source``. Codecs that cannot run
    and images that cannot be loaded produce error rows directly (``ResultRow``).
    """
    image_ids = dataset.image_ids()
    missing = {
        image_id: [
            (plan, q)
            for plan in plans
            for q in plan.qualities
            if (key := (plan.codec.name, quality_key(q), dataset_name, image_id)) in planned
            and key not in done
        ]
        for image_id in image_ids
    }
    total = sum(len(v) for v in missing.values())
    metrics = tuple(metrics)  # one tuple shared by every task (workers keep it)

    def generate():
        wanted = [image_id for image_id in image_ids if missing[image_id]]
        loaded = (images_ahead(dataset, wanted) if load_images
                  else ((image_id, None, "") for image_id in wanted))
        for image_id, image, error in loaded:
            todo = missing[image_id]
            for plan, quality in todo:
                if error or plan.problem:
                    yield ResultRow(
                        codec=plan.codec.name,
                        quality=quality_key(quality),
                        dataset=dataset_name,
                        image_id=image_id,
                        codec_version=plan.version,
                        framework=plan.codec.framework,
                        family=plan.codec.family,
                        error=error or plan.problem,
                    )
                    continue
                yield Task(plan.codec, plan.version, quality, dataset_name, image_id, image,
                           metrics, source=None if load_images else dataset)

    return total, generate()


def _split(items, executor) -> Iterator[ResultRow]:
    """Run the tasks through ``executor``; pass ready-made error rows straight through."""
    buffered: list[ResultRow] = []

    def tasks_only():
        for item in items:
            if isinstance(item, ResultRow):
                buffered.append(item)
            else:
                yield item

    for row in executor.run(tasks_only()):
        while buffered:
            yield buffered.pop()
        yield row
    while buffered:
        yield buffered.pop()


def write_exports(store: ResultsStore, metric_names: Sequence[str]) -> Table:
    """Write ``rows.csv`` and ``leaderboard.csv`` from the store; return the leaderboard."""
    dataset_hash = store.get_meta("dataset_hash") or ""
    rows = rows_table(store.rows(), metric_names)
    write_csv(with_provenance(rows, dataset_hash), store.run_dir / ROWS_CSV)
    table = with_set_metrics(aggregate(rows, metric_names),
                             set_metric_values(store, metric_names))
    table = with_provenance(table, dataset_hash)
    write_csv(table, store.run_dir / LEADERBOARD_CSV)
    return table


def _write_run_json(run_dir: Path, record: dict) -> None:
    path = run_dir / RUN_JSON
    atomic_write(path, json.dumps(record, indent=2, default=str) + "\n")


def _provenance(plans, dataset, dataset_name: str, dataset_hash, metrics, plugins,
                previous: dict | None, command: list[str]) -> dict:
    record = dict(previous or {})
    record.update(
        {
            "schema_version": SCHEMA_VERSION,
            "environment": provenance.environment(),
            "hardware": provenance.hardware(),
            "dataset": {
                "name": dataset_name,
                "version": dataset.version,
                "license": dataset.license,
                "source": dataset.source,
                "content_hash": dataset_hash,
                "n_images": len(dataset.image_ids()),
                "files": dataset.provenance() if isinstance(dataset, FileRecord) else None,
            },
            "codecs": [
                {
                    "name": p.codec.name,
                    "version": p.version,
                    "family": p.codec.family,
                    "framework": p.codec.framework,
                    "qualities": [quality_key(q) for q in p.qualities],
                    "library_versions": _library_versions(p),
                    "plugin": plugins.get(("codecs", p.codec.name)),
                    "problem": p.problem,
                }
                for p in plans
            ],
            "metrics": [
                {**m.spec().as_record(), "plugin": plugins.get(("metrics", m.name))}
                for m in metrics
            ],
        }
    )
    record.setdefault("created_utc", provenance.utc_now())
    invocations = list(record.get("invocations", []))
    invocations.append({"started_utc": provenance.utc_now(), "command": command})
    record["invocations"] = invocations
    record["status"] = "running"
    return record


def _library_versions(plan: CodecPlan) -> dict:
    if plan.problem:
        return {}
    try:
        return dict(plan.codec.library_versions())
    except Exception as exc:  # noqa: BLE001
        return {"error": describe_error("library_versions", exc)}


def run_evaluation(
    codecs: Sequence[Codec],
    dataset: Dataset,
    metrics: Sequence[Metric],
    run_dir: str | Path,
    *,
    qualities: Sequence[str] | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    executor: Executor | str | None = None,
    shard: Shard | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    plugins: dict | None = None,
    command: list[str] | None = None,
    dataset_hash: str | None = None,
) -> RunSummary:
    """Evaluate ``codecs`` on ``dataset`` with ``metrics`` into ``run_dir`` (resuming it).

    ``executor`` is an executor (closed at the end of the run), or the name of a built-in
    one: ``process`` (default: ``jobs`` worker processes) or ``in-process``. With ``shard``
    only that shard's tasks are planned (:mod:`.shards`).
    ``plugins`` maps ``(kind, name)`` to the plugin that registered it, for provenance.
    The run directory is locked while the run lasts (:mod:`.run_lock`). When the run is
    interrupted (Ctrl-C, SIGTERM), what was computed is kept, the exports are written,
    ``run.json`` says ``interrupted`` and :class:`RunInterrupted` is raised.
    """
    if not codecs:
        raise RunConfigError("no codec selected")
    if not metrics:
        raise RunConfigError("no metric selected")
    run_dir = Path(run_dir)
    metric_names = [m.name for m in metrics]
    plans = plan_codecs(codecs, qualities)
    dataset_hash = dataset_hash or dataset.content_hash()
    run_dir.mkdir(parents=True, exist_ok=True)
    command = command if command is not None else sys.argv
    with RunLock(run_dir, command), ResultsStore(run_dir) as store:
        _check_compatible(store, plans, dataset, dataset_hash, metrics)
        shard_text = str(shard) if shard is not None else "all"
        if store.get_meta("shard") not in (None, shard_text):
            raise RunConfigError(f"{run_dir} holds shard {store.get_meta('shard')} of a run, "
                                 f"not {shard_text}; use the same --shard or a new --out "
                                 "directory")
        store.set_meta("shard", shard_text)
        store.set_meta("dataset_hash", dataset_hash)
        # the run's dataset is its contents: a later invocation naming the same files
        # differently (a relative and an absolute path) resumes under the first name
        dataset_name = store.get_meta("dataset_name") or dataset.name
        store.set_meta("dataset_name", dataset_name)
        store.set_meta("metrics", metric_names)
        store.set_meta("metric_versions", metric_versions(metrics))
        if retry_errors:
            store.delete_errors()
        previous = None
        if (run_dir / RUN_JSON).is_file():
            try:
                previous = json.loads((run_dir / RUN_JSON).read_text())
            except ValueError:
                previous = None  # a damaged run.json is rewritten from this invocation
        record = _provenance(plans, dataset, dataset_name, dataset_hash, metrics, plugins or {},
                             previous, command)
        record["fingerprint"] = run_fingerprint(plans, dataset_name, dataset_hash, metrics,
                                                shard)
        pool = (executor if isinstance(executor, Executor)
                else make_executor(jobs, timeout, executor))
        record["executor"] = pool.describe()
        _write_run_json(run_dir, record)

        done = store.done_keys()
        planned = {(p.codec.name, quality_key(q), dataset_name, image_id)
                   for p in plans for q in p.qualities for image_id in dataset.image_ids()}
        if shard is not None:
            planned = {key for key in planned if shard.contains(key)}
        total, items = _tasks(plans, dataset, dataset_name, metrics, done, planned,
                              load_images=not pool.reads_images)
        computed = 0
        try:
            with _interrupt_on_sigterm(), pool, progress_bar(total, progress) as bar:
                for row in _split(items, pool):
                    store.add(row)
                    computed += 1
                    bar.update(1)
        except (KeyboardInterrupt, RunInterrupted) as exc:
            write_exports(store, metric_names)
            _finish(record, store, planned, "interrupted")
            _write_run_json(run_dir, record)
            raise RunInterrupted(
                f"interrupted after {computed} of {total} tasks; the same command resumes "
                f"{run_dir}") from exc

        table = write_exports(store, metric_names)
        missing = _finish(record, store, planned, "complete")
        _write_run_json(run_dir, record)
    rows, errors = int(record["rows"]), int(record["errors"])
    return RunSummary(run_dir, total, computed, rows, errors, table, metric_names,
                      metric_error_rows=record["metric_error_rows"], missing=missing)


def _finish(record: dict, store: ResultsStore, planned: set, status: str) -> int:
    """Record the end of an invocation in ``record``; returns how many planned tasks have
    no stored row (a complete run has none; otherwise the status is ``incomplete``)."""
    missing = len(planned - store.done_keys())
    rows, errors = store.count()
    if status == "complete" and missing:
        status = "incomplete"
    record["status"] = status
    record["finished_utc"] = provenance.utc_now()
    record["rows"] = rows
    record["errors"] = errors
    record["metric_error_rows"] = store.count_metric_errors()
    record["missing_tasks"] = missing
    return missing


class RunInterrupted(BaseException):
    """The run was stopped (Ctrl-C or SIGTERM) before every task was computed."""


@contextlib.contextmanager
def _interrupt_on_sigterm():
    """Turn SIGTERM into :class:`RunInterrupted` while the tasks run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise RunInterrupted("terminated")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
