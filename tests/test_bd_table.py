"""The leaderboard's BD table against published Kodak points and the bjontegaard package."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench.report.bd_table import bd_table, bd_wide

pytestmark = pytest.mark.no_frameworks

KODAK = Path(__file__).parent / "data" / "kodak-rd-compressai.csv"
"""CompressAI's published Kodak points for bmshj2018-hyperprior (MSE) and JPEG (Pillow),
copied from ../shared/reference/kodak-rd.csv with their source column."""


def _kodak_leaderboard() -> pd.DataFrame:
    points = pd.read_csv(KODAK)
    return pd.DataFrame({
        "dataset": points["dataset"], "codec": points["codec"],
        "family": np.where(points["codec"].str.startswith("jpeg"), "classical", "cnn"),
        "bpp": points["bpp"], "psnr": points["psnr_rgb"],
        "ms-ssim-db": -10 * np.log10(1 - points["ms_ssim_rgb"]),
    })


def _bjontegaard_directly(board, metric, method):
    import bjontegaard

    anchor = board[board.codec == "jpeg-pillow"].sort_values("bpp")
    test = board[board.codec == "bmshj2018-hyperprior-mse"].sort_values("bpp")
    return (bjontegaard.bd_rate(anchor.bpp, anchor[metric], test.bpp, test[metric],
                                method=method, require_matching_points=False, min_overlap=0),
            bjontegaard.bd_psnr(anchor.bpp, anchor[metric], test.bpp, test[metric],
                                method=method, require_matching_points=False, min_overlap=0))


def _vceg_m33_cubic_bd_rate(anchor_rate, anchor_q, test_rate, test_q):
    """Bjøntegaard's original VCEG-M33 method: cubic polynomial fits of log rate against
    quality, integrated over the common interval (an independent hand check)."""
    low, high = max(min(anchor_q), min(test_q)), min(max(anchor_q), max(test_q))
    integrals = []
    for rate, quality in ((anchor_rate, anchor_q), (test_rate, test_q)):
        poly = np.polyint(np.polyfit(quality, np.log10(rate), 3))
        integrals.append(np.polyval(poly, high) - np.polyval(poly, low))
    return (10 ** ((integrals[1] - integrals[0]) / (high - low)) - 1) * 100


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
def test_kodak_bd_rate_of_the_hyperprior_against_jpeg(method):
    board = _kodak_leaderboard()
    table = bd_table(board, anchor="jpeg-pillow", metrics=("psnr", "ms-ssim-db"), method=method)
    assert set(table["codec"]) == {"bmshj2018-hyperprior-mse"}
    for metric in ("psnr", "ms-ssim-db"):
        row = table[table.metric == metric].iloc[0]
        expected_rate, expected_quality = _bjontegaard_directly(board, metric, method)
        assert row["bd_rate_pct"] == pytest.approx(expected_rate, abs=1e-9)
        assert row["bd_metric"] == pytest.approx(expected_quality, abs=1e-9)
        assert row["bd_rate_reason"] == "" and row["method"] == method
    psnr = table[table.metric == "psnr"].iloc[0]
    # hand check: the 2018 hyperprior needs about half of JPEG's rate on Kodak
    anchor = board[board.codec == "jpeg-pillow"].sort_values("bpp")
    test = board[board.codec == "bmshj2018-hyperprior-mse"].sort_values("bpp")
    classic = _vceg_m33_cubic_bd_rate(anchor.bpp, anchor.psnr, test.bpp, test.psnr)
    assert -70 < psnr["bd_rate_pct"] < -40
    assert psnr["bd_rate_pct"] == pytest.approx(classic, abs=3.0)
    assert psnr["bd_metric"] > 3  # dB better at equal rate
    assert psnr["quality_low"] == pytest.approx(max(anchor.psnr.min(), test.psnr.min()))


def _curve(codec, bpp, psnr, dataset="d", family="classical"):
    return pd.DataFrame({"dataset": dataset, "codec": codec, "family": family, "bpp": bpp,
                         "psnr": psnr})


def test_misleading_comparisons_give_an_empty_value_and_the_reason():
    board = pd.concat([
        _curve("jpeg", [0.2, 0.5, 1.0, 2.0], [25, 30, 34, 38]),
        _curve("wavy", [0.2, 0.5, 1.0], [26, 24, 33]),              # not monotonic
        _curve("far", [0.2, 0.5, 1.0], [39, 40, 41]),               # no overlap
        _curve("barely", [0.2, 0.5, 1.0], [37, 40, 45]),            # 1 dB of an 8 dB range
        _curve("single", [0.5], [31]),                              # one point
        _curve("good", [0.1, 0.4, 0.9], [26, 31, 35]),
        _curve("alone", [0.1, 0.4], [26, 31], dataset="other"),     # no anchor there
    ], ignore_index=True)
    table = bd_table(board, metrics=("psnr",)).set_index("codec")
    assert "not monotonic" in table.loc["wavy", "bd_rate_reason"]
    assert table.loc["far", "bd_rate_reason"] == "curves do not overlap in quality"
    assert "overlap on 12 % of the narrower quality range" in table.loc["barely", "bd_rate_reason"]
    assert "fewer than 2 finite points" in table.loc["single", "bd_rate_reason"]
    assert table.loc["alone", "bd_rate_reason"] == "anchor jpeg has no results on other"
    for codec in ("wavy", "far", "barely", "single", "alone"):
        assert math.isnan(table.loc[codec, "bd_rate_pct"])
        assert math.isnan(table.loc[codec, "bd_metric"])
    assert table.loc["good", "bd_rate_pct"] < 0 and table.loc["good", "bd_rate_reason"] == ""
    wide = bd_wide(bd_table(board, metrics=("psnr",))).set_index("codec")
    assert wide.loc["good", "BD-rate psnr %"].startswith("-")
    assert wide.loc["far", "BD-rate psnr %"] == "– (curves do not overlap in quality)"
