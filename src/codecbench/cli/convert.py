"""``codecbench convert SOURCE TARGET``: write TARGET's weights from SOURCE's.

The target codec does the work through its ``convert_from(source, quality, out_dir)``
method (``tf/<model>`` converts ``torch/<model>``: see
:mod:`codecbench.codecs.learned.hyperprior.tf.convert`); this command picks the rate points and reports
the files.
"""

from __future__ import annotations

from pathlib import Path

import click

from codecbench.api.capabilities import Convertible, WeightsFolder
from codecbench.api.registry import NameConflictError, UnknownNameError, get_registry


@click.command()
@click.argument("source_name", metavar="SOURCE")
@click.argument("target_name", metavar="TARGET")
@click.option("--quality", "qualities", type=click.IntRange(min=1), multiple=True,
              help="Rate point to convert (repeatable; default: every one with weights).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("codecbench-weights"), show_default=True,
              help="Folder for the converted weights files.")
def convert(source_name, target_name, qualities, out):
    """Convert SOURCE's weights (e.g. torch/bmshj2018-hyperprior) for TARGET (e.g.
    tf/bmshj2018-hyperprior); point TARGET's weights variable at --out to use them."""
    registry = get_registry()
    try:
        source = registry.get("codecs", source_name)
        target = registry.get("codecs", target_name)
    except (UnknownNameError, NameConflictError) as exc:
        raise click.ClickException(str(exc)) from None
    if not isinstance(target, Convertible):
        raise click.ClickException(f"codec {target_name!r} cannot convert weights")
    available, reason = source.availability()
    if not available:
        raise click.ClickException(f"{source_name} is not available: {reason}")
    converted: dict[Path, Path] = {}  # one network for several rate points: converted once
    for quality in qualities or source.qualities:
        source_file = _weights_file(source, quality)
        try:
            if source_file is not None and source_file in converted:
                path = converted[source_file]
            else:
                path = target.convert_from(source, quality, out)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if source_file is not None:
            converted[source_file] = path
        click.echo(f"{target_name} q{quality}: {path}")
    if isinstance(target, WeightsFolder):
        click.echo(f"use them with {target.weights_env}={out}")


def _weights_file(source, quality: int) -> Path | None:
    """The file ``source`` reads for ``quality``, when it says (learned codecs do)."""
    weights_file = getattr(source, "weights_file", None)
    return weights_file(quality) if callable(weights_file) else None
