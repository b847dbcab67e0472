"""Reading metrics off RD curves."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from codecbench.report.rd import bd_rate, matched_rate_table, value_at_rate

pytestmark = pytest.mark.no_frameworks


def test_value_at_rate_interpolates_and_never_extrapolates():
    assert value_at_rate([0.2, 0.6, 1.0], [30.0, 34.0, 36.0], 0.4) == pytest.approx(32.0)
    assert value_at_rate([1.0, 0.2, 0.6], [36.0, 30.0, 34.0], 0.8) == pytest.approx(35.0)
    assert math.isnan(value_at_rate([0.2, 0.6], [30.0, 34.0], 0.1))
    assert math.isnan(value_at_rate([0.2, 0.6], [30.0, 34.0], 0.7))
    assert math.isnan(value_at_rate([0.2], [30.0], 0.2))
    assert value_at_rate([0.2, 0.4, math.nan], [30.0, 31.0, 40.0], 0.3) == pytest.approx(30.5)


def test_matched_rate_table_per_codec():
    board = pd.DataFrame({
        "dataset": ["d"] * 4, "codec": ["a", "a", "b", "b"], "family": ["classical"] * 4,
        "bpp": [0.2, 1.0, 0.3, 0.9], "psnr": [30.0, 38.0, 29.0, 35.0],
    })
    table = matched_rate_table(board, "psnr", [0.5]).set_index("codec")
    assert table.loc["a", "psnr@0.5bpp"] == pytest.approx(33.0)
    assert table.loc["b", "psnr@0.5bpp"] == pytest.approx(31.0)


def test_bd_rate_equals_the_bjontegaard_package_and_a_hand_checked_value():
    bjontegaard = pytest.importorskip("bjontegaard")
    anchor = ([0.25, 0.5, 1.0, 2.0], [28.0, 31.0, 34.0, 37.0])
    # the same curve at 80 % of the rate: BD-rate is exactly -20 %
    value, reason = bd_rate(*anchor, [0.2, 0.4, 0.8, 1.6], anchor[1])
    assert reason == "" and value == pytest.approx(-20.0)
    test = ([0.2, 0.45, 0.7, 1.9], [28.5, 31.2, 33.0, 37.5])
    expected = bjontegaard.bd_rate(*anchor, *test, method="akima", require_matching_points=False,
                                   min_overlap=0)
    assert bd_rate(*anchor, *test, method="akima")[0] == pytest.approx(expected)


def test_bd_rate_refuses_misleading_curves_with_the_reason():
    anchor = ([0.25, 0.5, 1.0], [28.0, 31.0, 34.0])
    assert "not monotonic" in bd_rate(*anchor, [0.2, 0.4, 0.8], [28.0, 27.0, 30.0])[1]
    assert "do not overlap" in bd_rate(*anchor, [2.0, 3.0], [40.0, 42.0])[1]
    assert "fewer than 2" in bd_rate(*anchor, [0.5, math.nan], [30.0, 31.0])[1]
    assert math.isnan(bd_rate(*anchor, [2.0, 3.0], [40.0, 42.0])[0])
    with pytest.raises(ValueError, match="method"):
        bd_rate(*anchor, *anchor, method="linear")
