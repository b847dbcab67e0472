"""Rate-distortion helpers: reading a metric off a codec's curve at a given rate."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd


def value_at_rate(bpp: Sequence[float], values: Sequence[float], target_bpp: float) -> float:
    """The metric at ``target_bpp`` by linear interpolation along the RD curve.

    The points are sorted by rate; a target outside the measured rates gives ``nan``
    (no extrapolation), and so does a curve with fewer than two finite points.
    """
    points = sorted((b, v) for b, v in zip(bpp, values, strict=True)
                    if math.isfinite(b) and math.isfinite(v))
    if len(points) < 2:
        return math.nan
    rates = np.array([p[0] for p in points])
    metric = np.array([p[1] for p in points])
    if not rates[0] <= target_bpp <= rates[-1]:
        return math.nan
    return float(np.interp(target_bpp, rates, metric))


def matched_rate_table(leaderboard: pd.DataFrame, metric: str,
                       targets: Sequence[float]) -> pd.DataFrame:
    """``metric`` of every dataset × codec read off its mean RD curve at each target bpp."""
    records = []
    for (dataset, codec), curve in leaderboard.groupby(["dataset", "codec"], sort=True):
        record = {"dataset": dataset, "codec": codec, "family": curve["family"].iloc[0]}
        for target in targets:
            record[f"{metric}@{target:g}bpp"] = value_at_rate(curve["bpp"], curve[metric], target)
        records.append(record)
    return pd.DataFrame.from_records(records)
