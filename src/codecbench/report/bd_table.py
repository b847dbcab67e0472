"""The Bjøntegaard-delta table: every codec against an anchor codec, per dataset and metric.

For each dataset, codec and quality metric (the metrics that declare themselves RD axes:
``psnr``, ``psnr-y``, ``ms-ssim-db`` among the built-ins, and any plugin metric that does)
the mean RD curve of the leaderboard (one point per quality) is compared with
the anchor's (``jpeg`` by default) by :func:`~codecbench.report.rd.bd_rate` (percent
rate at equal quality; negative is better) and :func:`~codecbench.report.rd.bd_quality`
(metric units at equal rate; positive is better). Where the number would mislead (too few
points, a non-monotonic curve, curves overlapping on less than half of the narrower
curve's quality range, the anchor missing) the value is empty and the ``*_reason`` column
says why. ``quality_low``/``quality_high`` give the interval the BD-rate averages over,
``bpp_low``/``bpp_high`` the one of the BD-metric: where curves cross (learned models that
saturate, for instance) the two can even disagree in sign, each true on its interval.

A metric where lower is better (LPIPS, DISTS, FID) is compared on its negation, so the
same reading holds for every row: BD-rate negative and BD-metric positive mean better
than the anchor (BD-metric is then the metric's *decrease* at equal rate);
``quality_low``/``quality_high`` stay in the metric's own units.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd

from codecbench.report.rd import MIN_OVERLAP, bd_quality, bd_rate

BD_METRICS = ("psnr", "psnr-y", "ms-ssim-db")
BD_COLUMNS = ("dataset", "codec", "family", "anchor", "metric", "method", "bd_rate_pct",
              "bd_rate_reason", "bd_metric", "bd_metric_reason", "quality_low", "quality_high",
              "bpp_low", "bpp_high")


def _curve(frame: pd.DataFrame, metric: str, sign: float = 1.0):
    curve = frame[["bpp", metric]].astype(float).dropna().sort_values("bpp")
    return curve["bpp"].tolist(), (sign * curve[metric]).tolist()


def bd_table(leaderboard: pd.DataFrame, anchor: str = "jpeg",
             metrics: Sequence[str] = BD_METRICS, method: str = "pchip",
             min_overlap: float = MIN_OVERLAP,
             lower_is_better: Collection[str] = ()) -> pd.DataFrame:
    """One row per dataset × codec (other than the anchor) × metric; see the module docstring.

    ``lower_is_better`` names the metrics compared on their negation.
    """
    records = []
    metrics = [m for m in metrics if m in leaderboard.columns]
    for dataset, frame in leaderboard.groupby("dataset", sort=True):
        anchor_rows = frame[frame["codec"] == anchor]
        for codec, rows in frame.groupby("codec", sort=True):
            if codec == anchor:
                continue
            for metric in metrics:
                record = {"dataset": dataset, "codec": codec, "family": rows["family"].iloc[0],
                          "anchor": anchor, "metric": metric, "method": method,
                          "quality_low": math.nan, "quality_high": math.nan,
                          "bpp_low": math.nan, "bpp_high": math.nan}
                if anchor_rows.empty:
                    reason = f"anchor {anchor} has no results on {dataset}"
                    record.update(bd_rate_pct=math.nan, bd_rate_reason=reason,
                                  bd_metric=math.nan, bd_metric_reason=reason)
                    records.append(record)
                    continue
                sign = -1.0 if metric in lower_is_better else 1.0
                anchor_bpp, anchor_q = _curve(anchor_rows, metric, sign)
                test_bpp, test_q = _curve(rows, metric, sign)
                rate, rate_reason = bd_rate(anchor_bpp, anchor_q, test_bpp, test_q, method,
                                            min_overlap)
                quality, quality_reason = bd_quality(anchor_bpp, anchor_q, test_bpp, test_q,
                                                     method, min_overlap)
                if not rate_reason:
                    low = max(min(anchor_q), min(test_q))
                    high = min(max(anchor_q), max(test_q))
                    record["quality_low"], record["quality_high"] = sorted(
                        (sign * low, sign * high))
                if not quality_reason:
                    record["bpp_low"] = max(min(anchor_bpp), min(test_bpp))
                    record["bpp_high"] = min(max(anchor_bpp), max(test_bpp))
                record.update(bd_rate_pct=rate, bd_rate_reason=rate_reason, bd_metric=quality,
                              bd_metric_reason=quality_reason)
                records.append(record)
    return pd.DataFrame.from_records(records, columns=list(BD_COLUMNS))


def _cell(value: float, reason: str, digits: int) -> str:
    return f"{value:+.{digits}f}" if math.isfinite(value) else f"– ({reason})"


def bd_wide(table: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × codec with ``BD-rate <metric> %`` and ``BD <metric>`` (in the
    metric's unit) columns, metrics in table order; an empty value shows its reason."""
    if table.empty:
        return pd.DataFrame(columns=["dataset", "codec", "family"])
    records: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in table.itertuples(index=False):
        record = records.setdefault((row.dataset, row.codec), {
            "dataset": row.dataset, "codec": row.codec, "family": row.family})
        record[f"BD-rate {row.metric} %"] = _cell(row.bd_rate_pct, row.bd_rate_reason, 1)
        record[f"BD {row.metric}"] = _cell(row.bd_metric, row.bd_metric_reason, 2)
    return pd.DataFrame.from_records(list(records.values()))
