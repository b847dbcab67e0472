"""Values of set metrics (FID, KID): one number per dataset × codec × quality.

A :class:`~codecbench.api.metric.SetMetric` measures a *set* of images, not one: each
task stores the metric's features of the original and of the reconstruction in the
results store (:meth:`~codecbench.harness.store.ResultsStore.add`), and the value of
a codec at a quality on a dataset is ``metric.distance(all original features, all
reconstruction features)`` over the images without error. The leaderboard (the run's and
``codecbench leaderboard``'s) shows it in the metric's column instead of a mean of
per-image values (the per-image cells of ``rows.csv`` stay empty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codecbench.harness.schema import metric_count_column
from codecbench.harness.store import ResultsStore
from codecbench.harness.table import Table, concat

GROUP = ["dataset", "codec", "quality"]


def set_metric_names(metric_names: Sequence[str]) -> list[str]:
    """The names among ``metric_names`` that are set metrics of the current registry."""
    from codecbench.api.registry import get_registry

    registry = get_registry()
    names = []
    for name in metric_names:
        try:
            metric = registry.get("metrics", name)
        except Exception:  # noqa: BLE001 - a metric no longer installed: nothing to compute
            continue
        if getattr(metric, "scope", "image") == "set":
            names.append(name)
    return names


def set_metric_values(store: ResultsStore, metric_names: Sequence[str]) -> Table:
    """``dataset, codec, quality, <metric>, n_<metric>…`` for every set metric among
    ``metric_names``, one row per group (``nan`` where a group has too few features for the
    distance, or none of that metric)."""
    from codecbench.api.registry import get_registry

    names = set_metric_names(metric_names)
    records: dict[tuple, dict] = {}
    columns = list(GROUP)
    for name in names:
        metric = get_registry().get("metrics", name)
        columns += [name, metric_count_column(name)]
        for key, (real, fake) in store.set_features(name).items():
            try:
                value = metric.distance(np.concatenate(real), np.concatenate(fake))
            except (ValueError, np.linalg.LinAlgError):
                value = math.nan
            record = records.setdefault(key, dict(zip(GROUP, key, strict=True)))
            record[name] = value
            record[metric_count_column(name)] = len(real)
    return Table.from_records(records.values(), columns, missing=math.nan)


def merged_set_metric_values(tables: Sequence[Table]) -> Table:
    """The set-metric values of several runs in one table: every run's columns, and of a
    group several runs have, the first run's row."""
    merged = concat(tables)
    return merged.first_per(GROUP) if merged.columns else merged


def with_set_metrics(table: Table, values: Table) -> Table:
    """``table`` (the aggregated leaderboard) with the set metrics' columns filled in from
    ``values`` (:func:`set_metric_values`): ``nan`` for a group ``values`` lacks."""
    if not values.rows:
        return table
    filled = [c for c in values.columns if c not in GROUP]
    by_group: dict[tuple, tuple] = {}
    key_at = [values.index(c) for c in GROUP]
    for row in values.rows:
        by_group.setdefault(tuple(row[i] for i in key_at), row)
    columns = [*table.columns, *[c for c in filled if c not in table.columns]]
    source = [(True, values.index(c)) if c in filled else (False, table.index(c))
              for c in columns]
    table_key_at = [table.index(c) for c in GROUP]
    rows = []
    for row in table.rows:
        found = by_group.get(tuple(row[i] for i in table_key_at))
        rows.append(tuple((math.nan if found is None else found[at]) if from_values
                          else row[at] for from_values, at in source))
    return Table(columns, rows)
