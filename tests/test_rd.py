"""Reading metrics off RD curves."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from codecbench.evaluators.rd import matched_rate_table, value_at_rate


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
