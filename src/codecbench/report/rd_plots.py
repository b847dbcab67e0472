"""Rate–distortion plots: one figure per dataset and metric, one curve per codec.

Each codec's mean RD curve (one point per quality, sorted by rate) is drawn in a shade of
its family's colour (classical blues, CNN reds, RNN greens, GAN purples), with its family's
line style (classical solid, CNN dashed, RNN dash-dot, GAN dotted) and its own marker, so
families read apart at a glance and codecs within a family too; the anchor codec is drawn thicker, in black, and labelled
"(anchor)". Axes name the quantity and its unit (rate in bits per pixel). Figures are
built with :class:`matplotlib.figure.Figure` (no pyplot global state) and written as PNG
and SVG by :func:`write_rd_plots`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

FAMILY_STYLES = {
    "classical": ("Blues", "-"),
    "cnn": ("Reds", "--"),
    "rnn": ("Greens", "-."),
    "gan": ("Purples", ":"),
    "other": ("Greys", "-"),
}
"""Per family: the colour map its codecs take shades of, and its line style."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
AXIS_LABELS = {
    "psnr": "PSNR (dB)", "psnr-y": "PSNR-Y (dB)", "ms-ssim-db": "MS-SSIM (dB)",
    "ssim": "SSIM", "ms-ssim": "MS-SSIM", "bpp-estimate": "estimated rate (bpp)",
}
PLOT_METRICS = ("psnr", "psnr-y", "ms-ssim-db")
"""The built-in RD axes (reports plot every metric declaring itself one)."""


def rd_figure(leaderboard: pd.DataFrame, dataset: str, metric: str, anchor: str | None = None,
              units: dict[str, str] | None = None):
    """The RD figure of ``metric`` on ``dataset`` (a :class:`matplotlib.figure.Figure`)."""
    import matplotlib
    from matplotlib.figure import Figure

    frame = leaderboard[leaderboard["dataset"] == dataset]
    figure = Figure(figsize=(7.5, 5.0), layout="constrained")
    axes = figure.subplots()
    families = frame.groupby("codec", sort=True)["family"].first()
    for codec, curve in frame.groupby("codec", sort=True):
        curve = curve[["bpp", metric]].astype(float).dropna().sort_values("bpp")
        if curve.empty:
            continue
        family = families[codec] if families[codec] in FAMILY_STYLES else "other"
        colormap, style = FAMILY_STYLES[family]
        siblings = list(families[families == families[codec]].index)
        rank = siblings.index(codec)
        color = matplotlib.colormaps[colormap](0.45 + 0.5 * rank / max(len(siblings) - 1, 1))
        is_anchor = codec == anchor
        axes.plot(curve["bpp"], curve[metric], marker=MARKERS[rank % len(MARKERS)],
                  markersize=4,
                  linestyle="-" if is_anchor else style, color="black" if is_anchor else color,
                  linewidth=2.5 if is_anchor else 1.2, zorder=3 if is_anchor else 2,
                  label=f"{codec} (anchor)" if is_anchor else codec)
    unit = (units or {}).get(metric)
    axes.set_xlabel("rate (bpp, bits per pixel)")
    axes.set_ylabel(AXIS_LABELS.get(metric, f"{metric} ({unit})" if unit else metric))
    axes.set_title(f"{dataset}: {metric} against rate (colour and line style by family)")
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend(fontsize=7, loc="lower right")
    return figure


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def write_rd_plots(leaderboard: pd.DataFrame, out_dir: Path,
                   metrics: Sequence[str] = PLOT_METRICS, anchor: str | None = None,
                   units: dict[str, str] | None = None) -> list[Path]:
    """``rd-<dataset>-<metric>.png`` and ``.svg`` for every dataset and available metric."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    metrics = [m for m in metrics if m in leaderboard.columns]
    for dataset in sorted(leaderboard["dataset"].unique()):
        for metric in metrics:
            figure = rd_figure(leaderboard, dataset, metric, anchor, units)
            for suffix in ("png", "svg"):
                path = out_dir / f"rd-{_slug(dataset)}-{_slug(metric)}.{suffix}"
                # no creation date in the file: the same leaderboard gives the same plot
                figure.savefig(path, dpi=120, metadata={"Date": None} if suffix == "svg"
                               else {"Software": "codecbench (matplotlib)"})
                written.append(path)
    return written
