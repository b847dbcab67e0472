"""Torch and TensorFlow twins side by side on the sample set (the table in docs/results.md).

Runs (or resumes) ``codecbench run`` with ``torch/<model>`` and ``tf/<model>`` for the
three CNN models (the TF codecs run the shipped torch weights, converted at load time),
in one process (``-j 1``) so that both frameworks share the machine equally, and prints
a Markdown table: per rate point bpp, PSNR and MS-SSIM of each framework, and the median
encode and decode times per image with their TF/torch ratio (the framework cost), then the
model-loading cost paid by the first image of each rate point.

Usage: ``python benchmarks/framework_cost.py [--out DIR]`` (about ten minutes on 2 cores);
the recurrent models: ``--models toderici2016-lstm,toderici2017-gru,johnston2018-priming
--quality 2 --quality 8 --quality 16``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

MODELS = ("bls2017-factorized", "bmshj2018-hyperprior", "mbt2018-mean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path("codecbench-results/framework-cost-sample"))
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated model slugs with torch/ and tf/ codecs")
    parser.add_argument("--quality", action="append", default=[],
                        help="rate point to run (repeatable; default: all)")
    args = parser.parse_args()
    models = args.models.split(",")
    command = [sys.executable, "-m", "codecbench", "run", "--out", str(args.out), "-j", "1",
               "--no-progress", "--metric", "bpp", "--metric", "psnr", "--metric", "ms-ssim"]
    for quality in args.quality:
        command += ["--quality", quality]
    for model in models:
        command += ["--codec", f"torch/{model}", "--codec", f"tf/{model}"]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    board = pd.read_csv(args.out / "leaderboard.csv").set_index(["codec", "quality"])
    rows = pd.read_csv(args.out / "rows.csv")
    rows = rows[rows["error"].isna()]
    # the median per image is the steady state; the first image of each rate point also
    # pays for loading the model (TF: Keras build + tfc's tables, seconds), shown apart
    medians = rows.groupby(["codec", "quality"])[["encode_s", "decode_s"]].median()
    print("| model | q | bpp torch / TF | PSNR dB torch / TF | MS-SSIM torch / TF "
          "| encode s torch / TF (×) | decode s torch / TF (×) |")
    print("|---|---|---|---|---|---|---|")
    ratios = {"encode_s": [], "decode_s": []}
    for model in models:
        for quality in sorted(board.loc[f"torch/{model}"].index):
            t, f = board.loc[(f"torch/{model}", quality)], board.loc[(f"tf/{model}", quality)]
            cells = [model, str(quality), f"{t['bpp']:.4f} / {f['bpp']:.4f}",
                     f"{t['psnr']:.3f} / {f['psnr']:.3f}",
                     f"{t['ms-ssim']:.5f} / {f['ms-ssim']:.5f}"]
            for column in ratios:
                torch_s = medians.loc[(f"torch/{model}", quality), column]
                tf_s = medians.loc[(f"tf/{model}", quality), column]
                ratios[column].append(tf_s / torch_s)
                cells.append(f"{torch_s:.3f} / {tf_s:.3f} ({tf_s / torch_s:.1f}×)")
            print("| " + " | ".join(cells) + " |")
    print()
    for column, values in ratios.items():
        series = pd.Series(values)
        print(f"TF/torch median {column} per image: median over rate points "
              f"{series.median():.2f}×, range {series.min():.2f}–{series.max():.2f}×")
    framework = rows["codec"].str.split("/").str[0]
    for name, group in rows.groupby(framework):
        loads = group.groupby(["codec", "quality"])["encode_s"].agg(lambda s: s.max() - s.median())
        print(f"{name}: first encode of a rate point costs {loads.median():.2f} s more than the "
              f"median (model loading; median over rate points, max {loads.max():.2f} s)")


if __name__ == "__main__":
    main()
