"""The separate example distribution, installed by tox, is found and evaluated."""

from __future__ import annotations

import importlib.metadata
import json
import os

import pandas as pd
import pytest

from conftest import run_cli


def example_installed() -> bool:
    try:
        importlib.metadata.distribution("codecbench-plugin-example")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("CODECBENCH_REQUIRE_EXAMPLE_PLUGIN") == "1":
            pytest.fail("tox must install examples/codecbench-plugin-example")
        return False
    return True


pytestmark = pytest.mark.skipif("not example_installed()")


def test_example_plugin_conforms():
    from codecbench_plugin_example.plugin import QuantizeZlib

    from codecbench.testing import check_codec

    check_codec(QuantizeZlib())


@pytest.mark.slow
def test_example_plugin_listed_and_evaluated(tmp_path, small_photo_dir):
    plugins = {r["name"]: r for r in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["quantize-zlib"]["distribution"] == "codecbench-plugin-example"
    assert plugins["quantize-zlib"]["codecs"] == ["example/quantize-zlib"]
    result = run_cli("run", "--codec", "example/*", "--dataset", str(small_photo_dir), "--out",
                     str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert list(board["quality"]) == [2, 3, 4, 5, 6, 7]
    assert board["bpp"].is_monotonic_increasing and board["psnr"].is_monotonic_increasing
    # the error bound of uniform quantisation: |v - v'| <= 2^(7-k) gives PSNR >= 20·log10(255/2^(7-k))
    for k, psnr in zip(board["quality"], board["psnr"], strict=True):
        assert psnr >= 20 * __import__("math").log10(255 / 2 ** (7 - k))
