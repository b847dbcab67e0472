"""Rate-distortion helpers: reading a metric off a codec's curve at a given rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a table is made: the CLI imports this module
    import pandas as pd


def value_at_rate(bpp: Sequence[float], values: Sequence[float], target_bpp: float) -> float:
    """The metric at ``target_bpp`` by linear interpolation along the RD curve.

    The points are sorted by rate; a target outside the measured rates gives ``nan``
    (no extrapolation), and so does a curve with fewer than two finite points.
    """
    import numpy as np

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
    import pandas as pd

    return pd.DataFrame.from_records(records)


BD_METHODS = ("pchip", "akima", "cubic")
MIN_OVERLAP = 0.5
"""Least share of the narrower curve's quality range both curves must cover for a BD value."""


def _bd_curves(anchor_bpp, anchor_quality, test_bpp, test_quality, min_overlap):
    """``(anchor, test, reason)``: the sorted ``(rate, quality)`` points, or a reason why a
    Bjøntegaard delta would mislead."""
    import numpy as np

    curves = []
    for label, rates, qualities in (("anchor", anchor_bpp, anchor_quality),
                                    ("test", test_bpp, test_quality)):
        points = sorted((r, q) for r, q in zip(rates, qualities, strict=True)
                        if math.isfinite(r) and math.isfinite(q) and r > 0)
        if len(points) < 2:
            return None, None, f"{label} curve has fewer than 2 finite points"
        if any(b[1] <= a[1] for a, b in zip(points, points[1:], strict=False)):
            return None, None, f"{label} curve is not monotonic (quality must rise with rate)"
        curves.append(np.array(points))
    anchor, test = curves
    low = max(anchor[:, 1].min(), test[:, 1].min())
    high = min(anchor[:, 1].max(), test[:, 1].max())
    if high <= low:
        return None, None, "curves do not overlap in quality"
    narrower = min(np.ptp(anchor[:, 1]), np.ptp(test[:, 1]))
    if (high - low) < min_overlap * narrower:
        return None, None, (f"curves overlap on {100 * (high - low) / narrower:.0f} % of the "
                            f"narrower quality range (< {100 * min_overlap:.0f} %)")
    return anchor, test, ""


def _check_method(method: str) -> None:
    if method not in BD_METHODS:
        raise ValueError(f"method must be one of {', '.join(BD_METHODS)}, got {method!r}")


def bd_rate(anchor_bpp: Sequence[float], anchor_quality: Sequence[float],
            test_bpp: Sequence[float], test_quality: Sequence[float],
            method: str = "pchip", min_overlap: float = 0.0) -> tuple[float, str]:
    """Bjøntegaard delta rate of a test curve against an anchor, in percent.

    ``BD-rate = 10^(mean over the common quality interval of log10 R_test − log10 R_anchor) − 1``
    (VCEG-M33), computed by the ``bjontegaard`` package with ``method`` interpolation of
    ``log10(rate)`` as a function of quality (PCHIP by default, as in the JVET common test
    conditions). Negative: the test codec needs less rate for the same quality.

    Returns ``(value, reason)``: ``(nan, reason)`` when the number would mislead — fewer than
    two finite points on a curve, quality not strictly increasing with rate, curves whose
    quality ranges do not overlap, or overlap on less than ``min_overlap`` of the narrower
    curve's range; ``reason`` is empty otherwise.
    """
    import warnings

    import bjontegaard

    _check_method(method)
    anchor, test, reason = _bd_curves(anchor_bpp, anchor_quality, test_bpp, test_quality,
                                      min_overlap)
    if reason:
        return math.nan, reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial overlap is judged by _bd_curves
        value = bjontegaard.bd_rate(anchor[:, 0], anchor[:, 1], test[:, 0], test[:, 1],
                                    method=method, require_matching_points=False, min_overlap=0)
    return float(value), ""


def bd_quality(anchor_bpp: Sequence[float], anchor_quality: Sequence[float],
               test_bpp: Sequence[float], test_quality: Sequence[float],
               method: str = "pchip", min_overlap: float = 0.0) -> tuple[float, str]:
    """Bjøntegaard delta of the quality metric (e.g. BD-PSNR in dB) at equal rate.

    ``BD-Q = mean over the common log10-rate interval of Q_test − Q_anchor`` (VCEG-M33), by
    the ``bjontegaard`` package (quality interpolated as a function of ``log10(rate)``).
    Positive: the test codec is better at the same rate. The same ``(nan, reason)`` rules as
    :func:`bd_rate`, the overlap judged on quality as for the rate.
    """
    import warnings

    import bjontegaard

    _check_method(method)
    anchor, test, reason = _bd_curves(anchor_bpp, anchor_quality, test_bpp, test_quality,
                                      min_overlap)
    if reason:
        return math.nan, reason
    low = max(anchor[:, 0].min(), test[:, 0].min())
    high = min(anchor[:, 0].max(), test[:, 0].max())
    if high <= low:
        return math.nan, "curves do not overlap in rate"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bjontegaard.bd_psnr(anchor[:, 0], anchor[:, 1], test[:, 0], test[:, 1],
                                    method=method, require_matching_points=False, min_overlap=0)
    return float(value), ""
