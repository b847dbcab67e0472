"""RD plots: real image files with one curve per codec, families apart, anchor marked."""

import pandas as pd
import pytest
from PIL import Image

from codecbench.report.rd_plots import rd_figure, write_rd_plots

pytestmark = pytest.mark.no_frameworks


def _board():
    rows = []
    for codec, family, shift in (("jpeg", "classical", 0), ("webp", "classical", 1),
                                 ("torch/a", "cnn", 2), ("rnn/b", "rnn", 1.5)):
        for bpp, psnr in ((0.2, 26), (0.5, 30), (1.0, 34)):
            rows.append({"dataset": "sample", "codec": codec, "family": family, "bpp": bpp,
                         "psnr": psnr + shift, "ms-ssim-db": 10 + shift + bpp})
    rows.append({"dataset": "kodak", "codec": "jpeg", "family": "classical", "bpp": 0.3,
                 "psnr": 27.0, "ms-ssim-db": 11.0})
    return pd.DataFrame(rows)


def test_figure_has_one_curve_per_codec_with_family_styles_and_the_anchor_marked():
    figure = rd_figure(_board(), "sample", "psnr", anchor="jpeg")
    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.lines}
    assert set(lines) == {"jpeg (anchor)", "webp", "torch/a", "rnn/b"}
    assert all(len(line.get_xdata()) == 3 for line in lines.values())
    assert lines["jpeg (anchor)"].get_linewidth() > lines["webp"].get_linewidth()
    assert lines["jpeg (anchor)"].get_color() == "black"
    styles = {label: line.get_linestyle() for label, line in lines.items()}
    assert styles["webp"] == "-" and styles["torch/a"] == "--" and styles["rnn/b"] == "-."
    assert axes.get_xlabel() == "rate (bpp, bits per pixel)"
    assert axes.get_ylabel() == "PSNR (dB)"
    assert [t.get_text() for t in axes.get_legend().get_texts()]


def test_plots_are_written_as_png_and_svg_per_dataset_and_metric(tmp_path):
    written = write_rd_plots(_board(), tmp_path, metrics=("psnr", "ms-ssim-db", "absent"),
                             anchor="jpeg")
    names = sorted(path.name for path in written)
    assert names == sorted(f"rd-{d}-{m}.{s}" for d in ("kodak", "sample")
                           for m in ("psnr", "ms-ssim-db") for s in ("png", "svg"))
    with Image.open(tmp_path / "rd-sample-psnr.png") as image:
        assert image.format == "PNG" and image.size[0] >= 600
    svg = (tmp_path / "rd-sample-psnr.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
