"""The survey-style family summary."""

import math

import pandas as pd
import pytest

from codecbench.report.family_summary import family_summary

pytestmark = pytest.mark.no_frameworks


def _curve(codec, family, bpp, psnr, ssim):
    return pd.DataFrame({"dataset": "d", "codec": codec, "family": family, "bpp": bpp,
                         "psnr": psnr, "ssim": ssim})


def test_each_family_is_represented_by_its_best_codec_at_the_target_rate():
    board = pd.concat([
        _curve("jpeg", "classical", [0.25, 0.75], [28, 32], [0.80, 0.90]),
        _curve("webp", "classical", [0.25, 0.75], [29, 33], [0.82, 0.91]),
        _curve("torch/a", "cnn", [0.2, 0.6, 1.0], [30, 32, 36], [0.85, 0.90, 0.95]),
        _curve("torch/short", "cnn", [0.1, 0.3], [40, 41], [0.99, 0.99]),  # never reaches 0.5
    ], ignore_index=True)
    table = family_summary(board, target_bpp=0.5).set_index("family")
    assert list(table.index) == ["classical", "cnn", "rnn", "gan"]
    assert table.loc["classical", "best_codec"] == "webp"
    assert table.loc["classical", "psnr@0.5bpp"] == pytest.approx(31.0)
    assert table.loc["classical", "ssim@0.5bpp"] == pytest.approx(0.865)
    assert table.loc["cnn", "best_codec"] == "torch/a"           # the 41 dB codec stops at 0.3
    assert table.loc["cnn", "psnr@0.5bpp"] == pytest.approx(31.5)
    assert table.loc["cnn", "n_codecs"] == 2
    assert table.loc["rnn", "best_codec"] == "" and table.loc["rnn", "n_codecs"] == 0
    assert math.isnan(table.loc["gan", "psnr@0.5bpp"])


def test_ranking_needs_a_metric_the_leaderboard_has():
    board = _curve("jpeg", "classical", [0.25, 0.75], [28, 32], [0.8, 0.9])
    with pytest.raises(ValueError, match="cannot rank families by 'ms-ssim'"):
        family_summary(board, metrics=("psnr",), rank_by="ms-ssim")
