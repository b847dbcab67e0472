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
import pandas as pd

from codecbench.harness.schema import metric_count_column
from codecbench.harness.store import ResultsStore

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


def set_metric_values(store: ResultsStore, metric_names: Sequence[str]) -> pd.DataFrame:
    """``dataset, codec, quality, <metric>…`` for every set metric among ``metric_names``
    (``nan`` where a group has too few features for the distance)."""
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
    return pd.DataFrame.from_records(list(records.values()), columns=columns)


def with_set_metrics(table: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """``table`` (the aggregated leaderboard) with the set metrics' columns filled in."""
    if values.empty:
        return table
    merged = table.drop(columns=[c for c in values.columns if c not in GROUP and c in table])
    merged = merged.merge(values, on=GROUP, how="left")
    return merged[[*table.columns, *[c for c in values.columns if c not in table.columns]]]
