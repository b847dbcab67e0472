"""Which leaderboard columns are metrics, and what each declares (for the views).

The views (BD tables, RD plots, md/html) never hard-code metric names: they lay out every
metric by its :class:`~codecbench.api.metric.MetricSpec` — its direction, unit, range
and whether it is an RD axis. A spec is taken, in this order, from the ``run.json`` of the
run that computed the metric (so a leaderboard of a plugin metric lays out correctly
where the plugin is not installed), from the installed metric of that name, or — for a
column nobody declares — a spec that is no RD axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from codecbench.api.metric import MetricSpec
from codecbench.harness.schema import (
    COUNT_COLUMNS,
    GROUP_COLUMNS,
    LEADING_COLUMNS,
    PROVENANCE_COLUMNS,
    TRAILING_COLUMNS,
    metric_count_column,
)

if TYPE_CHECKING:
    import pandas as pd

NOT_METRICS = frozenset({*LEADING_COLUMNS, *TRAILING_COLUMNS, *GROUP_COLUMNS, *COUNT_COLUMNS,
                         *PROVENANCE_COLUMNS})


def recorded_specs(run_records: Iterable[Mapping]) -> dict[str, MetricSpec]:
    """Specs written into ``run.json`` files (records without ``rd_axis`` predate specs
    and are left to the installed metrics)."""
    specs: dict[str, MetricSpec] = {}
    for record in run_records:
        for entry in record.get("metrics") or []:
            if isinstance(entry, Mapping) and "name" in entry and "rd_axis" in entry:
                try:
                    specs.setdefault(str(entry["name"]), MetricSpec.from_record(entry))
                except (TypeError, ValueError):
                    continue
    return specs


def installed_specs() -> dict[str, MetricSpec]:
    """Specs of the metrics registered in this installation."""
    from codecbench.api.registry import get_registry

    specs = {}
    for metric in get_registry().metrics():
        try:
            specs[metric.name] = metric.spec()
        except Exception:  # noqa: BLE001 - a broken plugin metric: treated as undeclared
            continue
    return specs


def metric_names_of(table: pd.DataFrame, known: Iterable[str] = ()) -> list[str]:
    """The metric columns of a leaderboard, in table order: those with an ``n_<metric>``
    count column, or named in ``known``."""
    known = set(known)
    return [c for c in table.columns if isinstance(c, str) and c not in NOT_METRICS
            and (metric_count_column(c) in table.columns or c in known)]


def specs_for(table: pd.DataFrame, run_records: Iterable[Mapping] = (),
              installed: Mapping[str, MetricSpec] | None = None) -> dict[str, MetricSpec]:
    """``{metric column: spec}`` for every metric column of ``table``."""
    recorded = recorded_specs(run_records)
    installed = installed_specs() if installed is None else installed
    specs = {}
    for name in metric_names_of(table, [*recorded, *installed]):
        specs[name] = recorded.get(name) or installed.get(name) or MetricSpec(name=name)
    return specs


def rd_axes(specs: Mapping[str, MetricSpec], chosen: Sequence[str] | None = None) -> list[str]:
    """The RD axes among ``specs`` (in order), or the ``chosen`` ones (each must be a
    metric column of the leaderboard; naming a metric that is not an RD axis makes it one
    for this report)."""
    if not chosen:
        return [name for name, spec in specs.items() if spec.rd_axis]
    unknown = [name for name in chosen if name not in specs]
    if unknown:
        raise ValueError(f"no metric column {', '.join(map(repr, unknown))} in the "
                         f"leaderboard; its metrics: {', '.join(specs) or '(none)'}")
    return list(dict.fromkeys(chosen))
