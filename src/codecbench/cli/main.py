"""The ``codecbench`` command line.

Plugins are loaded once at start-up (cheap by contract: registering never
imports torch or tensorflow). Every subcommand comes through the
``register_commands(cli)`` hook, the built-in ones included: the commands defined
here and in :mod:`.leaderboard`, :mod:`.train` and :mod:`.convert` (those three modules
imported only when their command is used) are added by the built-in plugin
``commands-builtin`` (:mod:`codecbench.cli.plugin`), which is always loaded. :func:`build_cli`
makes the whole command line (for embedding and tests); :func:`main` runs it.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path

import click

from codecbench.api.capabilities import Verifiable
from codecbench.api.codec import quality_key
from codecbench.api.registry import (
    KINDS,
    NameConflictError,
    PluginLoadError,
    Registry,
    UnknownNameError,
    get_registry,
)
from codecbench.datasets.split import SPLITS
from codecbench.harness.executors.builtin import DEFAULT_EXECUTOR

DEFAULT_RESULTS_DIR = Path("codecbench-results")


def _registry() -> Registry:
    try:
        return get_registry()
    except PluginLoadError as exc:  # CODECBENCH_STRICT_PLUGINS=1
        raise click.ClickException(str(exc)) from None


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _top_level_group() -> click.Group:
    """A new ``codecbench`` group without subcommands (plugins add them)."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="codecbench", prog_name="codecbench")
    def codecbench():
        """Evaluate image codecs (classical and learned) on image datasets."""

    return codecbench


def build_cli(registry: Registry | None = None) -> click.Group:
    """The ``codecbench`` command line: a new top-level group with every plugin's
    subcommands, added through the ``register_commands`` hook of ``registry`` (default:
    the process-wide one), the built-in plugin ``commands-builtin`` first.

    A new group each call, so that commands of one registry never leak into another.
    A plugin that fails to load in strict mode (``CODECBENCH_STRICT_PLUGINS=1``) is a
    :class:`click.ClickException` with the one-line message.
    """
    if registry is None:
        registry = _registry()
    group = _top_level_group()
    try:
        registry.register_commands(group)
    except PluginLoadError as exc:  # strict mode: a failing hook or a clashing command
        raise click.ClickException(str(exc)) from None
    return group


# -- plugins / list -----------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json):
    """Installed plugins, their versions, what each registered, and load errors."""
    registry = _registry()
    infos = [info.as_dict() for info in registry.plugins.values()]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        dist = f"{info['distribution']} {info['version']}".strip() or "-"
        click.echo(f"{info['name']}  [{dist}]  {info['module']}")
        for kind in KINDS:
            if info[kind]:
                click.echo(f"    {kind}: {', '.join(info[kind])}")
        for error in info["errors"]:
            click.echo(f"    ERROR: {error}")


def _describe(kind: str, obj, registry: Registry) -> dict:
    owner = registry.owner(kind, obj.name)
    record = {"name": obj.name, "plugin": owner.name, "distribution": owner.distribution,
              "conflict": False}
    if kind == "codecs":
        available, reason = obj.availability()
        record.update(
            family=obj.family,
            framework=obj.framework,
            qualities=[quality_key(q) for q in obj.qualities],
            available=available,
            reason=reason,
            in_default_run=obj.in_default_run,
            description=obj.description,
            complexity=obj.complexity,
        )
    elif kind == "datasets":
        record.update(
            version=obj.version, license=obj.license, source=obj.source,
            description=obj.description,
        )
    elif kind == "executors":
        available, reason = obj.availability()
        record.update(description=obj.description, available=available, reason=reason,
                      default=obj.name == DEFAULT_EXECUTOR)
    else:
        available, reason = obj.availability()
        record.update(unit=obj.unit, higher_is_better=obj.higher_is_better,
                      description=obj.description, available=available, reason=reason)
    return record


def _describe_conflict(kind: str, name: str, registry: Registry) -> dict:
    """The record of a name several plugins registered (unusable until one is removed)."""
    owners = [registry.plugins[p] for p in registry.conflicts[kind][name]]
    return {"name": name, "conflict": True, "plugins": [info.name for info in owners],
            "distributions": [info.distribution for info in owners],
            "error": registry.conflict_message(kind, name)}


@click.command("list")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(kind, as_json):
    """List registered codecs, datasets, metrics or executors."""
    registry = _registry()
    records = [_describe(kind, registry.get(kind, n), registry) for n in registry.names(kind)]
    records += [_describe_conflict(kind, n, registry) for n in registry.conflicted_names(kind)]
    records.sort(key=lambda r: r["name"])
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for r in records:
        if r["conflict"]:
            labels = ", ".join(registry.plugins[p].label for p in r["plugins"])
            click.echo(f"{r['name']:<32} CONFLICT: registered by {labels}; unusable until "
                       "all but one are uninstalled")
        elif kind == "codecs":
            status = "" if r["available"] else f"  UNAVAILABLE: {r['reason']}"
            status += "" if r["in_default_run"] else "  (not in default run)"
            click.echo(f"{r['name']:<32} {r['family']:<9} {r['framework']:<10} "
                       f"q={','.join(r['qualities'])}{status}")
        elif kind == "datasets":
            click.echo(f"{r['name']:<32} {r['description']}  [{r['license']}]")
        elif kind == "executors":
            status = "" if r["available"] else f"  UNAVAILABLE: {r['reason']}"
            default = " (default)" if r["default"] else ""
            click.echo(f"{r['name'] + default:<22} {r['description']}{status}")
        else:
            direction = "higher is better" if r["higher_is_better"] else "lower is better"
            status = "" if r["available"] else f"  UNAVAILABLE: {r['reason']}"
            click.echo(f"{r['name']:<16} {r['unit'] or '-':<6} {direction:<17} "
                       f"{r['description']}{status}")


# -- run ------------------------------------------------------------------------------


def _select_metrics(registry: Registry, names):
    """The named metrics (each must be available), or every available one."""
    if names:
        metrics = registry.select("metrics", names)
        for metric in metrics:
            available, reason = metric.availability()
            if not available:
                _fail(f"metric {metric.name} is unavailable: {reason}")
        return metrics
    chosen = []
    for metric in registry.metrics():
        available, reason = metric.availability()
        if available:
            chosen.append(metric)
        else:
            click.echo(f"codecbench: skipping unavailable metric {metric.name}: {reason}",
                       err=True)
    return chosen


def _select_codecs(registry: Registry, patterns):
    if patterns:
        codecs = registry.select("codecs", patterns)
        exact = {p for p in patterns if not any(ch in p for ch in "*?[")}
    else:
        try:
            codecs, exact = registry.codecs(), set()
        except NameConflictError as exc:
            raise NameConflictError(f"{exc.args[0]} (or name the codecs to run with "
                                    "--codec)") from None
        slow = [c.name for c in codecs if not c.in_default_run]
        if slow:
            click.echo("codecbench: not in the default run (seconds per image, your own weights, "
                       "the RNN and GAN families, or more TF twins of torch codecs; select "
                       "them with --codec, e.g. "
                       f"--codec '*'): {', '.join(slow)}", err=True)
        codecs = [c for c in codecs if c.in_default_run]
    chosen = []
    for codec in codecs:
        available, reason = codec.availability()
        if available or codec.name in exact:
            chosen.append(codec)
        else:
            click.echo(f"codecbench: skipping unavailable codec {codec.name}: {reason}", err=True)
    return chosen


def _select_dataset(registry: Registry, name: str, max_images=None, subset_seed=None,
                    split: str = "all"):
    from codecbench.datasets.folder import FolderDataset

    if name in registry.conflicts["datasets"]:
        _fail(registry.conflict_message("datasets", name))
    if name in registry.objects["datasets"]:
        if max_images is not None or subset_seed is not None or split != "all":
            _fail("--max-images, --subset-seed and --split apply to a folder given as "
                  f"--dataset, not to the registered dataset {name!r}")
        return registry.get("datasets", name)
    path = Path(name)
    if path.is_dir() or any(ch in name for ch in "*?["):
        return FolderDataset(name, max_images=max_images, subset_seed=subset_seed, split=split)
    valid = ", ".join(registry.names("datasets")) or "(none registered)"
    _fail(f"unknown dataset {name!r}: not a registered dataset nor a folder of images; "
          f"valid datasets: {valid}")


def _executor_settings(pairs) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"--executor-option wants KEY=VALUE, got {pair!r}")
        settings[key.strip()] = value.strip()
    return settings


def _create_executor(registry: Registry, name: str, jobs: int, timeout, device: str,
                     settings: dict, option_error: type[Exception]):
    """The run's executor, from the registered executor type ``name``."""
    from codecbench.api.executor import ExecutorOptions

    if name in registry.conflicts["executors"]:
        _fail(registry.conflict_message("executors", name))
    if name not in registry.objects["executors"]:
        valid = ", ".join(registry.names("executors")) or "(none registered)"
        _fail(f"unknown executor {name!r}; valid: {valid}")
    executor_type = registry.get("executors", name)
    available, reason = executor_type.availability()
    if not available:
        _fail(f"executor {name!r} is unavailable: {reason}")
    try:
        return executor_type.create(ExecutorOptions(workers=jobs, timeout=timeout,
                                                    device=device, settings=settings))
    except option_error as exc:
        _fail(str(exc))


def _find_resumable(fingerprint: dict) -> Path | None:
    """The newest run under ``codecbench-results/`` with the same fingerprint, if unfinished."""
    from codecbench.harness.runner import RUN_JSON

    if not DEFAULT_RESULTS_DIR.is_dir():
        return None
    for run_dir in sorted(DEFAULT_RESULTS_DIR.iterdir(), reverse=True):
        try:
            record = json.loads((run_dir / RUN_JSON).read_text())
        except (OSError, ValueError):
            continue
        if record.get("fingerprint") == fingerprint:
            return run_dir if record.get("status") != "complete" else None
    return None


@click.command()
@click.option("--codec", "codec_patterns", multiple=True,
              help="Codec name or shell pattern ('torch/*'); repeatable. Default: all available.")
@click.option("--quality", "qualities", multiple=True,
              help="Quality point to evaluate (as listed by 'codecbench list codecs'); repeatable.")
@click.option("--dataset", default="sample", show_default=True,
              help="Registered dataset name, or a folder (or glob) of images.")
@click.option("--max-images", type=click.IntRange(min=1),
              help="Folder datasets: at most this many images (the first, or a seeded subset).")
@click.option("--subset-seed", type=int,
              help="Folder datasets: with --max-images, a deterministic random subset.")
@click.option("--split", type=click.Choice(SPLITS), default="all", show_default=True,
              help="Folder datasets: the fixed train / held-out split by file name (the "
                   "held-out part: photos that 'codecbench train --split train' never saw).")
@click.option("--metric", "metric_names", multiple=True, help="Metric name; repeatable. Default: all.")
@click.option("-j", "--jobs", default=0, type=click.IntRange(min=0),
              help="Tasks running at the same time: worker processes (default 1), or, for "
                   "ray, tasks in flight (default: as many as the cluster has CPUs).")
@click.option("--executor", default=DEFAULT_EXECUTOR, show_default=True,
              help="How tasks run: process (worker processes, isolated from the run), "
                   "in-process (one at a time here, for debugging), ray (a Ray cluster), or "
                   "a plugin's; 'codecbench list executors'.")
@click.option("--executor-option", "executor_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the executor (e.g. address=HOST:PORT, gpus-per-task=0.5 "
                   "for ray); repeatable.")
@click.option("--ray-address", help="Same as --executor ray --executor-option address=ADDR.")
@click.option("--device", default="cpu", show_default=True,
              help="Where learned codecs and metrics run: cpu, cuda or cuda:N (torch and "
                   "TensorFlow).")
@click.option("--shard", metavar="I/N",
              help="Evaluate only shard I of N (a deterministic 1/N of the tasks, by task "
                   "key); join the shards' run folders with 'codecbench leaderboard merge'.")
@click.option("--in-process", "in_process", is_flag=True,
              help="Same as --executor in-process.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (resumed if it exists). Default: codecbench-results/<UTC time>, "
                   "or the newest unfinished run of the same command.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Per-task time limit in seconds; a task past it becomes an error row.")
@click.option("--retry-errors", is_flag=True, help="Run again the tasks that ended in an error.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run(codec_patterns, qualities, dataset, max_images, subset_seed, split, metric_names, jobs,
        executor, executor_options, ray_address, device, shard, in_process, out_dir, timeout,
        retry_errors, no_progress):
    """Evaluate codecs on a dataset; resumable; writes rows.csv, leaderboard.csv, run.json.

    Exit status 0 only when every planned task is stored without error and every metric
    has its value; 1 otherwise; 130 when interrupted.
    """
    from codecbench.api.executor import ExecutorOptionError
    from codecbench.datasets.remote import DatasetUnavailableError
    from codecbench.frameworks.devices import device_environment
    from codecbench.harness.aggregate import format_table
    from codecbench.harness.run_lock import RunDirectoryInUse
    from codecbench.harness.runner import (
        RunConfigError,
        RunInterrupted,
        plan_codecs,
        run_evaluation,
        run_fingerprint,
    )
    from codecbench.harness.shards import Shard

    if in_process:
        executor = "in-process"
    settings = _executor_settings(executor_options)
    if ray_address:
        executor = "ray"
        settings["address"] = ray_address
    try:
        os.environ.update(device_environment(device))  # this process and its workers
        chosen_shard = Shard.parse(shard) if shard else None
    except ValueError as exc:
        _fail(str(exc))

    registry = _registry()
    try:
        codecs = _select_codecs(registry, codec_patterns)
        metrics = _select_metrics(registry, metric_names)
    except (UnknownNameError, NameConflictError) as exc:
        _fail(str(exc.args[0]))
    if not codecs:
        _fail("no codec to run (every selected codec is unavailable)")
    data = _select_dataset(registry, dataset, max_images, subset_seed, split)
    pool = _create_executor(registry, executor, jobs, timeout, device, settings,
                            ExecutorOptionError)
    try:
        dataset_hash = data.content_hash()
        if out_dir is None:
            plans = plan_codecs(codecs, qualities)
            fingerprint = run_fingerprint(plans, data.name, dataset_hash, metrics, chosen_shard)
            out_dir = _find_resumable(fingerprint)
            if out_dir is not None:
                click.echo(f"codecbench: resuming unfinished run {out_dir}", err=True)
            else:
                stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
                out_dir = DEFAULT_RESULTS_DIR / stamp
        plugins = {}
        for kind, objects in (("codecs", codecs), ("metrics", metrics)):
            for obj in objects:
                info = registry.owner(kind, obj.name)
                plugins[(kind, obj.name)] = {"plugin": info.name, "distribution": info.distribution,
                                             "version": info.distribution_version}
        summary = run_evaluation(
            codecs, data, metrics, out_dir, qualities=qualities or None, jobs=jobs,
            timeout=timeout, executor=pool, shard=chosen_shard, retry_errors=retry_errors,
            progress=not no_progress, plugins=plugins, command=["codecbench", *sys.argv[1:]],
            dataset_hash=dataset_hash,
        )
    except RunInterrupted as exc:
        click.echo(f"codecbench: {exc}", err=True)
        sys.exit(130)
    except (RunConfigError, RunDirectoryInUse, FileNotFoundError, ValueError,
            DatasetUnavailableError) as exc:
        _fail(str(exc))
    click.echo(format_table(summary.table, summary.metric_names))
    reused = summary.rows - summary.tasks_computed
    click.echo(
        f"\n{summary.tasks_computed} tasks computed"
        + (f", {reused} kept from earlier invocations" if reused else "")
        + f", {summary.errors} error rows; results in {summary.run_dir}"
    )
    rows_csv = summary.run_dir / "rows.csv"
    if summary.errors:
        click.echo(f"codecbench: {summary.errors} tasks failed; see the 'error' column of "
                   f"{rows_csv}", err=True)
    if summary.metric_error_rows:
        click.echo(f"codecbench: a metric failed on {summary.metric_error_rows} rows; see the "
                   f"'metric_errors' column of {rows_csv}", err=True)
    if summary.missing:
        click.echo(f"codecbench: {summary.missing} planned tasks have no result; run the same "
                   "command again to compute them", err=True)
    if not summary.ok:
        sys.exit(1)


# -- leaderboard, train, convert: see leaderboard.py, train.py and convert.py ----------


# -- datasets -----------------------------------------------------------------------------


@click.group()
def datasets():
    """List, download, verify and locate datasets."""


def _dataset(name: str):
    try:
        return _registry().get("datasets", name)
    except (UnknownNameError, NameConflictError) as exc:
        _fail(str(exc.args[0]))


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def datasets_list(as_json):
    """Every dataset with its availability (cached / downloadable / needs local copy)."""
    registry = _registry()
    records = []
    for name in registry.names("datasets"):
        dataset = registry.get("datasets", name)
        records.append({"name": name, "status": dataset.status(), "license": dataset.license,
                        "source": dataset.source, "description": dataset.description})
    for name in registry.conflicted_names("datasets"):
        records.append({"name": name, "status": "CONFLICT", "license": "", "source": "",
                        "description": registry.conflict_message("datasets", name)})
    records.sort(key=lambda r: r["name"])
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for r in records:
        click.echo(f"{r['name']:<30} {r['status']:<17} {r['description']}")


@datasets.command("download")
@click.argument("name")
def datasets_download(name):
    """Download, verify and extract NAME into the cache.

    Every failure (network, size or ratio cap, timeout, checksum, refused archive) ends
    with a one-line ``Error: ...`` and a non-zero exit status.
    """
    import pickle

    from codecbench.datasets.remote import RemoteDataset

    dataset = _dataset(name)
    if not isinstance(dataset, RemoteDataset):
        _fail(f"dataset {name!r} is not downloadable ({dataset.status()})")
    try:
        dataset.ensure()
        count = len(dataset.image_ids())
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        # DatasetUnavailableError (network, caps, timeouts), ChecksumError,
        # UnsafeArchiveError (unsafe, damaged or over a cap), disk errors
        _fail(_one_line(exc))
    click.echo(f"{name}: {count} images in {dataset.files_dir}")


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@datasets.command("verify")
@click.argument("name")
def datasets_verify(name):
    """Check that NAME is complete and intact: checksums, files present, expected count.

    Prints ``NAME: OK`` only when there is no problem; otherwise a one-line
    ``Error: ...`` and a non-zero exit status.
    """
    dataset = _dataset(name)
    try:
        problems = dataset.verify() if isinstance(dataset, Verifiable) else []
    except (OSError, ValueError, RuntimeError) as exc:
        _fail(f"{name}: {_one_line(exc)}")
    if problems:
        _fail(f"{name}: " + "; ".join(_one_line(p) for p in problems))
    click.echo(f"{name}: OK")


@datasets.command("path")
@click.argument("name")
def datasets_path(name):
    """Where NAME's files go (to place them by hand)."""
    from codecbench.datasets.folder import FolderDataset
    from codecbench.datasets.local_layouts import LocalLayoutDataset
    from codecbench.datasets.remote import RemoteDataset

    dataset = _dataset(name)
    if isinstance(dataset, RemoteDataset):
        click.echo(dataset.root)
        click.echo(f"  {dataset.how_to_place()}", err=True)
    elif isinstance(dataset, LocalLayoutDataset):
        click.echo(dataset.root() or f"(set {dataset.layout.env})")
    elif isinstance(dataset, FolderDataset):
        click.echo(dataset.root)
    else:
        click.echo(dataset.source)


@datasets.command("info")
@click.argument("name")
def datasets_info(name):
    """Metadata, status, checksums and location of NAME."""
    from codecbench.datasets.local_layouts import LocalLayoutDataset
    from codecbench.datasets.remote import RemoteDataset

    dataset = _dataset(name)
    record = {"name": dataset.name, "version": dataset.version, "license": dataset.license,
              "source": dataset.source, "description": dataset.description,
              "status": dataset.status()}
    if isinstance(dataset, RemoteDataset):
        record["files"] = [{"url": f.url, "checksum": f.checksum} for f in dataset.spec.files]
        record["expected_images"] = dataset.spec.expected_count
        record.update(dataset.provenance())
    elif isinstance(dataset, LocalLayoutDataset):
        record["environment_variable"] = dataset.layout.env
        record["problems"] = dataset.problems()
    click.echo(json.dumps(record, indent=2, default=str))


def main(argv=None):
    """Console-script entry point: load the plugins, build the command line, run it."""
    try:
        group = build_cli()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    group.main(args=argv, prog_name="codecbench")
