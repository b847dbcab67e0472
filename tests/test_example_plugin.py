"""The separate example distribution, installed by tox, is found and evaluated, and its own
test suite (``examples/codecbench-plugin-example/tests``) passes."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest

from helpers import REPO_ROOT, run_cli

EXAMPLE_DIR = REPO_ROOT / "examples" / "codecbench-plugin-example"


def example_installed() -> bool:
    try:
        importlib.metadata.distribution("codecbench-plugin-example")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("CODECBENCH_REQUIRE_EXAMPLE_PLUGIN") == "1":
            pytest.fail("tox must install examples/codecbench-plugin-example")
        return False
    return True


pytestmark = [pytest.mark.no_frameworks, pytest.mark.skipif("not example_installed()")]


def test_example_plugin_conforms():
    from codecbench_plugin_example.plugin import MeanAbsoluteError, QuantizeZlib

    from codecbench.testing import check_codec, check_metric

    check_codec(QuantizeZlib())
    check_metric(MeanAbsoluteError())


@pytest.mark.slow
def test_the_example_plugins_own_tests_pass():
    env = {k: v for k, v in os.environ.items() if k != "CODECBENCH_LOAD_PLUGINS"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout


@pytest.mark.slow
def test_example_plugin_listed_and_evaluated(tmp_path, small_photo_dir):
    plugins = {r["name"]: r for r in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["quantize-zlib"]["distribution"] == "codecbench-plugin-example"
    assert plugins["quantize-zlib"]["codecs"] == ["example/quantize-zlib"]
    assert plugins["quantize-zlib"]["metrics"] == ["example/mae"]
    result = run_cli("run", "--codec", "example/*", "--dataset", str(small_photo_dir), "--out",
                     str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert list(board["quality"]) == [2, 3, 4, 5, 6, 7]
    assert board["bpp"].is_monotonic_increasing and board["psnr"].is_monotonic_increasing
    assert board["example/mae"].is_monotonic_decreasing
    # the error bound of uniform quantisation: |v - v'| <= 2^(7-k) gives PSNR >= 20·log10(255/2^(7-k))
    for k, psnr, mae in zip(board["quality"], board["psnr"], board["example/mae"], strict=True):
        assert psnr >= 20 * math.log10(255 / 2 ** (7 - k))
        assert mae <= 2 ** (7 - k)
