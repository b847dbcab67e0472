"""``codecbench leaderboard``: re-aggregate runs, publish them, validate and merge CSVs.

* ``codecbench leaderboard RUN_DIR… [--anchor jpeg] [--format md|html|json|csv]`` (the
  ``show`` subcommand, the default): one leaderboard from run folders, the BD table
  against the anchor, the family summary, RD plots and the requested views
  (:mod:`codecbench.report.publish`);
* ``codecbench leaderboard validate FILE_OR_RUN…``: checks a CSV someone sent, or a run
  folder (:mod:`codecbench.report.validate`); exit status 1 on any problem;
* ``codecbench leaderboard merge FILE_OR_RUN… -o OUT``: leaderboards from several machines
  in one CSV with provenance, conflicts flagged (:mod:`codecbench.report.merge`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codecbench.report.rd import BD_METHODS, MIN_OVERLAP


class _DefaultToShow(click.Group):
    """A group whose first argument, when it is no subcommand, goes to ``show``."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToShow)
def leaderboard():
    """Leaderboards: show/publish runs (default), validate or merge CSVs."""


def _load_runs(run_dirs):
    """``(rows with provenance, metric names, run.json records, set-metric values)`` of the
    run folders."""
    from codecbench.harness.aggregate import rows_table
    from codecbench.harness.schema import with_provenance
    from codecbench.harness.set_metrics import merged_set_metric_values, set_metric_values
    from codecbench.harness.store import ResultsStore, StoreError
    from codecbench.harness.table import concat

    runs, metric_names, records, set_values = [], [], [], []
    for run_dir in run_dirs:
        try:
            with ResultsStore.open_existing(run_dir) as store:
                names = store.get_meta("metrics") or []
                rows = store.rows()
                dataset_hash = store.get_meta("dataset_hash") or ""
                set_values.append(set_metric_values(store, names))
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
        metric_names += [n for n in names if n not in metric_names]
        runs.append((rows, dataset_hash))
        run_json = Path(run_dir) / "run.json"
        if run_json.is_file():
            try:
                records.append(json.loads(run_json.read_text()))
            except (OSError, ValueError) as exc:
                click.echo(f"codecbench: warning: {run_json} is unreadable ({exc}); its "
                           "provenance is left out", err=True)
    table = concat([with_provenance(rows_table(rows, metric_names), dataset_hash)
                    for rows, dataset_hash in runs])
    return table, metric_names, records, merged_set_metric_values(set_values)


@leaderboard.command()
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the (merged) leaderboard CSV here.")
@click.option("--anchor", default="jpeg", show_default=True,
              help="Codec every BD-rate is measured against.")
@click.option("--method", type=click.Choice(BD_METHODS), default="pchip", show_default=True,
              help="Interpolation of the Bjøntegaard deltas (PCHIP as in JVET CTC).")
@click.option("--min-overlap", type=click.FloatRange(0, 1), default=MIN_OVERLAP,
              show_default=True,
              help="Least share of the narrower curve's quality range both curves must cover.")
@click.option("--target-bpp", type=click.FloatRange(min=0, min_open=True), default=0.5,
              show_default=True, help="Rate of the family summary.")
@click.option("--format", "formats", type=click.Choice(("csv", "md", "html", "json")),
              multiple=True, help="Views to write (repeatable): csv (leaderboard, BD table, "
                                  "family summary), md, html (with plots), json (CompressAI).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the views (default: the run folder, when there is one).")
@click.option("--metric", "rd_metrics", multiple=True,
              help="RD axis of the BD tables and plots (repeatable). Default: every metric "
                   "that declares itself one (psnr, psnr-y, ms-ssim-db, plugin metrics).")
def show(run_dirs, output, anchor, method, min_overlap, target_bpp, formats, out, rd_metrics):
    """Aggregate RUN_DIRS into one leaderboard, with BD-rates against --anchor."""
    from codecbench.harness.aggregate import aggregate, drop_duplicate_keys, format_table
    from codecbench.harness.csv_export import write_csv
    from codecbench.harness.frames import frame_of
    from codecbench.harness.metric_specs import rd_axes, specs_for
    from codecbench.harness.schema import CSV_SCHEMA_VERSION
    from codecbench.harness.set_metrics import with_set_metrics
    from codecbench.report.publish import (
        build_report,
        markdown,
        provenance_lines,
        write_outputs,
    )

    rows, metric_names, records, set_values = _load_runs(run_dirs)
    rows, dropped = drop_duplicate_keys(rows)
    if dropped:
        click.echo(f"codecbench: {dropped} rows repeat a codec/quality/dataset/image already "
                   "seen in an earlier run directory; kept the first", err=True)
    table = with_set_metrics(aggregate(rows, metric_names), set_values)
    table = table.with_column(0, "schema_version", CSV_SCHEMA_VERSION)
    if output:
        write_csv(table, output)
        click.echo(f"wrote {output}", err=True)
    board = frame_of(table)
    specs = specs_for(board, records)
    try:
        axes = rd_axes(specs, rd_metrics)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = build_report(board, anchor=anchor, method=method, target_bpp=target_bpp,
                          provenance=provenance_lines(records), min_overlap=min_overlap,
                          specs=specs, rd_metrics=axes)
    if formats:
        if out is None:
            if len(run_dirs) > 1:
                raise click.ClickException("several run folders: give --out for the views")
            out = run_dirs[0]
        written = write_outputs(report, out, formats)
        if "csv" in formats:
            written += [write_csv(table, out / "leaderboard.csv"),
                        write_csv(report.bd, out / "bd.csv"),
                        write_csv(report.families, out / "families.csv")]
        click.echo(f"wrote {len(written)} files into {out}", err=True)
    if "md" in formats:
        click.echo(markdown(report))
    else:
        click.echo(format_table(table, metric_names))


@leaderboard.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
def validate(files):
    """Check leaderboard or rows CSVs, or run folders (their rows.csv and leaderboard.csv):
    schema, numbers and their ranges, consistency, duplicates, formula injection. Exit
    status 1 when anything is wrong."""
    from codecbench.report.validate import failures, validate_path

    failed = False
    for given in files:
        for path, problems in validate_path(given):
            errors = failures(problems)
            if errors:
                failed = True
                click.echo(f"{path}: {len(errors)} problem(s)")
                for problem in errors:
                    click.echo(f"  {problem}")
            else:
                click.echo(f"{path}: ok")
            for problem in problems:
                if problem.note:
                    click.echo(f"  note: {problem}")
    sys.exit(1 if failed else 0)


@leaderboard.command()
@click.argument("inputs", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The merged CSV.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when anything was flagged.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Shards: also keep the merged run folder here (rows.csv, leaderboard.csv, "
                   "results store, run.json), for 'codecbench leaderboard RUN_DIR'.")
def merge(inputs, output, strict, run_dir):
    """Merge leaderboard CSVs (or run folders) from several machines, keeping provenance;
    the same codec with other versions, or a dataset with other contents, is flagged.

    The run folders of 'codecbench run --shard I/N' are joined into the leaderboard of
    the whole run instead (shards of different runs are refused).
    """
    from codecbench.harness.csv_export import write_csv
    from codecbench.report.merge import MergeError, merge_leaderboards
    from codecbench.report.shard_merge import is_shard_folder

    shard_inputs = [path for path in inputs if path.is_dir() and is_shard_folder(path)]
    if shard_inputs:
        if len(shard_inputs) != len(inputs):
            raise click.ClickException("shards merge only with the other shards of their run; "
                                       "got shard folders and other inputs")
        _merge_shards(inputs, output, strict, run_dir)
        return

    try:
        merged, findings = merge_leaderboards(inputs)
    except MergeError as exc:
        raise click.ClickException(str(exc)) from None
    write_csv(merged, output)
    for finding in findings:
        click.echo(f"codecbench: {finding}", err=True)
    click.echo(f"merged {len(inputs)} inputs, {len(merged)} rows, {len(findings)} flagged "
               f"into {output}", err=True)
    if strict and findings:
        sys.exit(1)


def _merge_shards(inputs, output: Path, strict: bool, run_dir: Path | None) -> None:
    import shutil
    import tempfile

    from codecbench.report.shard_merge import ShardMergeError, merge_shards

    scratch = None if run_dir is not None else Path(tempfile.mkdtemp(prefix="codecbench-merge-"))
    target = run_dir if run_dir is not None else scratch
    assert target is not None
    try:
        record, findings = merge_shards(list(inputs), target)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target / "leaderboard.csv", output)
    except ShardMergeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    for finding in findings:
        click.echo(f"codecbench: {finding}", err=True)
    click.echo(f"merged {len(inputs)} shards, {record['rows']} rows ({record['errors']} errors), "
               f"run {record['status']}, into {output}", err=True)
    if record["status"] != "complete" or (strict and findings):
        sys.exit(1)
