"""The survey-style family summary (its Table 3): classical vs CNN vs RNN vs GAN.

For every dataset, each codec's mean RD curve is read at a common target rate (linear
interpolation between its quality points, :func:`~codecbench.report.rd.value_at_rate`;
no extrapolation — a codec whose curve does not reach the target is left out), and each
family is represented by its best codec at that rate: the highest ``rank_by`` metric
(PSNR by default). Every survey family is listed, with an empty row where the run had no
codec of it (or none reaching the target), so the table always reads the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from codecbench.api.codec import FAMILIES
from codecbench.report.rd import value_at_rate

SUMMARY_METRICS = ("psnr", "ssim", "ms-ssim")


def family_summary(leaderboard: pd.DataFrame, target_bpp: float = 0.5,
                   metrics: Sequence[str] = SUMMARY_METRICS,
                   rank_by: str = "psnr", higher_is_better: bool = True) -> pd.DataFrame:
    """Rows ``dataset, family, best_codec, n_codecs, <metric>@<bpp>…``; see the module doc.

    The best codec has the highest ``rank_by`` at the target rate, or the lowest when
    ``higher_is_better`` is false.
    """
    metrics = [m for m in metrics if m in leaderboard.columns]
    if rank_by not in metrics:
        raise ValueError(f"cannot rank families by {rank_by!r}: not among the metrics "
                         f"{', '.join(metrics) or '(none)'}")
    columns = {m: f"{m}@{target_bpp:g}bpp" for m in metrics}
    records = []
    for dataset, frame in leaderboard.groupby("dataset", sort=True):
        readings = []
        for codec, curve in frame.groupby("codec", sort=True):
            values = {m: value_at_rate(curve["bpp"], curve[m], target_bpp) for m in metrics}
            readings.append({"codec": codec, "family": curve["family"].iloc[0], **values})
        present = [f for f in FAMILIES if f != "other"]
        present += sorted({r["family"] for r in readings} - set(present))
        for family in present:
            members = [r for r in readings if r["family"] == family]
            reaching = [r for r in members if math.isfinite(r[rank_by])]
            record = {"dataset": dataset, "family": family, "n_codecs": len(members),
                      "best_codec": "", **dict.fromkeys(columns.values(), math.nan)}
            if reaching:
                sign = 1.0 if higher_is_better else -1.0
                best = max(reaching, key=lambda r: sign * r[rank_by])
                record["best_codec"] = best["codec"]
                record.update({columns[m]: best[m] for m in metrics})
            records.append(record)
    return pd.DataFrame.from_records(
        records, columns=["dataset", "family", "best_codec", "n_codecs", *columns.values()])
