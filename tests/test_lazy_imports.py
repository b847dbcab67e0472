"""`codecbench plugins` and `codecbench list` never import torch or tensorflow; `codecbench
run` of a classical codec never imports pandas."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from helpers import run_cli

HEAVY = ("torch", "tensorflow", "tensorflow_compression", "compressai", "torchvision")

LAZY_PLUGIN = {
    "lazy_plugin": """
        from codecbench import Codec, hookimpl

        class HeavyCodec(Codec):
            name = "fake/heavy"
            family = "cnn"
            framework = "fakeframework"
            qualities = (1, 2)

            @property
            def version(self):
                import fake_heavy_framework
                return fake_heavy_framework.VERSION

            def encode(self, image, quality):
                import fake_heavy_framework
                return fake_heavy_framework.encode(image, quality)

            def decode(self, data):
                import fake_heavy_framework
                return fake_heavy_framework.decode(data)

        @hookimpl
        def register_codecs(register):
            register(HeavyCodec())
    """,
    "fake_heavy_framework": """
        import zlib
        import numpy as np
        VERSION = "9.9"

        def encode(image, quality):
            h, w = image.shape[:2]
            return h.to_bytes(4, "big") + w.to_bytes(4, "big") + zlib.compress(image.tobytes(), quality)

        def decode(data):
            h, w = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
            return np.frombuffer(zlib.decompress(data[8:]), np.uint8).reshape(h, w, 3).copy()
    """,
}

PROBE = """
import sys
from codecbench.cli.main import main
try:
    main({args!r})
except SystemExit as exit:
    assert not exit.code, exit.code
loaded = sorted(m for m in {modules!r} if m in sys.modules)
print("LOADED", ",".join(loaded))
"""


def probe(args, modules=HEAVY + ("fake_heavy_framework",)):
    code = PROBE.format(args=list(args), modules=list(modules))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].removeprefix("LOADED").strip()


@pytest.mark.parametrize("args", [["plugins"], ["plugins", "--json"], ["list", "codecs"],
                                  ["list", "codecs", "--json"], ["list", "datasets"],
                                  ["list", "metrics"], ["--help"]])
def test_listing_imports_no_framework(fake_dists, args):
    fake_dists("lazy-dist", {"lazy": "lazy_plugin"}, LAZY_PLUGIN)
    assert probe(args) == ""


def test_framework_is_imported_when_its_codec_runs(fake_dists, tmp_path, small_photo_dir):
    fake_dists("lazy-dist", {"lazy": "lazy_plugin"}, LAZY_PLUGIN)
    loaded = probe(["run", "--codec", "fake/heavy", "--dataset", str(small_photo_dir),
                    "--out", str(tmp_path / "run"), "--no-progress"])
    assert "fake_heavy_framework" in loaded.split(",")
    assert not set(loaded.split(",")) & set(HEAVY)


LISTING_NEEDS_NONE_OF = ("pandas", "ray", "urllib.request", "http.client", "ssl", "tarfile",
                         "matplotlib", "tqdm", "subprocess", "pickle")
"""Heavy or network modules that listing codecs, datasets, metrics and executors never
needs (tables, plots, downloads, archives, a cluster engine), and the standard modules
only coding or reading a dataset needs (child processes for ffmpeg, CIFAR's pickles):
each costs the listing 1–2 ms."""


@pytest.mark.parametrize("kind", ["codecs", "datasets", "metrics", "executors"])
def test_listing_imports_no_table_network_or_cluster_library(kind):
    assert probe(["list", kind], LISTING_NEEDS_NONE_OF) == ""


ARRAY_IMAGE_AND_TABLE_LIBRARIES = ("numpy", "PIL", "pandas")
"""What encoding, decoding, measuring and reporting need, and listing never does."""


@pytest.mark.parametrize("args", [["plugins"], ["plugins", "--json"], ["list", "datasets"],
                                  ["list", "metrics"], ["list", "executors"], ["--help"]])
def test_listing_imports_no_array_image_or_table_library(args):
    assert probe(args, ARRAY_IMAGE_AND_TABLE_LIBRARIES) == ""


@pytest.mark.parametrize("args", [["list", "codecs"], ["list", "codecs", "--json"]])
def test_listing_codecs_imports_no_array_or_table_library(args):
    """Pillow is imported: the Pillow codecs' availability asks Pillow's build which
    formats it codes."""
    assert probe(args, ("numpy", "pandas")) == ""


def test_run_imports_no_table_library_and_the_reports_read_its_csvs(small_photo_dir, tmp_path):
    """rows.csv, leaderboard.csv and the printed leaderboard come without pandas; the
    report commands (pandas) validate them and aggregate the run to the same leaderboard."""
    out = tmp_path / "run"
    loaded = probe(["run", "--codec", "jpeg", "--quality", "50", "--quality", "90",
                    "--metric", "bpp", "--metric", "psnr", "--dataset", str(small_photo_dir),
                    "--out", str(out), "--no-progress"], ("pandas",))
    assert loaded == ""
    validated = run_cli("leaderboard", "validate", str(out))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.count(": ok") == 2, validated.stdout
    views = tmp_path / "views"
    shown = run_cli("leaderboard", "show", str(out), "--format", "csv", "--out", str(views))
    assert shown.returncode == 0, shown.stderr
    assert (views / "leaderboard.csv").read_bytes() == (out / "leaderboard.csv").read_bytes()
    rows = pd.read_csv(out / "rows.csv")
    assert len(rows) == 6 and rows["error"].isna().all() and rows["psnr"].gt(20).all()
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["quality"].tolist() == [50, 90] and board["n_images"].tolist() == [3, 3]
    assert board["bpp"].tolist() == pytest.approx(
        rows.groupby("quality")["bpp"].mean().tolist(), rel=1e-9)


OTHER_COMMAND_MODULES = ("codecbench.cli.leaderboard", "codecbench.cli.train",
                         "codecbench.cli.convert", "codecbench.report", "codecbench.api.training")
"""The modules of the other subcommands, loaded only when one of those commands is used."""


def test_run_imports_neither_other_commands_nor_the_progress_bar(small_photo_dir, tmp_path):
    loaded = probe(["run", "--codec", "jpeg", "--quality", "50", "--metric", "bpp",
                    "--dataset", str(small_photo_dir), "--out", str(tmp_path / "run"),
                    "--no-progress"], (*OTHER_COMMAND_MODULES, "tqdm"))
    assert loaded == ""


def test_progress_bar_imports_tqdm_when_shown(small_photo_dir, tmp_path):
    loaded = probe(["run", "--codec", "jpeg", "--quality", "50", "--metric", "bpp",
                    "--dataset", str(small_photo_dir), "--out", str(tmp_path / "run")],
                   ("tqdm",))
    assert loaded == "tqdm"


@pytest.mark.parametrize(("args", "module"), [
    (["leaderboard", "--help"], "codecbench.cli.leaderboard"),
    (["train", "--help"], "codecbench.cli.train"),
    (["convert", "--help"], "codecbench.cli.convert"),
])
def test_a_command_module_is_imported_when_its_command_is_used(args, module):
    assert probe(args, OTHER_COMMAND_MODULES[:3]) == module


def test_help_lists_the_lazy_commands_with_their_own_summaries():
    from codecbench.cli.convert import convert
    from codecbench.cli.leaderboard import leaderboard
    from codecbench.cli.train import train

    listing = run_cli("--help").stdout
    for command in (leaderboard, train, convert):
        assert f"  {command.name}" in listing
        assert command.get_short_help_str(limit=30).removesuffix("...") in listing
