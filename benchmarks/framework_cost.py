"""Torch and TensorFlow twins side by side on the sample set (the README's table).

Runs (or resumes) ``codecbench run`` with ``torch/<model>`` and ``tf/<model>`` for the
three CNN models (the TF codecs run the shipped torch weights, converted at load time),
in one process (``-j 1``) so that both frameworks share the machine equally, and prints
a Markdown table: per rate point bpp, PSNR and MS-SSIM of each framework, and the TF/torch
ratio of the mean encode and decode times (the framework cost).

Usage: ``python benchmarks/framework_cost.py [--out DIR]`` (about ten minutes on 2 cores).
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
    args = parser.parse_args()
    command = [sys.executable, "-m", "codecbench", "run", "--out", str(args.out), "-j", "1",
               "--no-progress", "--metric", "bpp", "--metric", "psnr", "--metric", "ms-ssim"]
    for model in MODELS:
        command += ["--codec", f"torch/{model}", "--codec", f"tf/{model}"]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    board = pd.read_csv(args.out / "leaderboard.csv").set_index(["codec", "quality"])
    print("| model | q | bpp torch / TF | PSNR dB torch / TF | MS-SSIM torch / TF "
          "| encode s torch / TF (×) | decode s torch / TF (×) |")
    print("|---|---|---|---|---|---|---|")
    ratios = {"encode_s": [], "decode_s": []}
    for model in MODELS:
        for quality in sorted(board.loc[f"torch/{model}"].index):
            t, f = board.loc[(f"torch/{model}", quality)], board.loc[(f"tf/{model}", quality)]
            cells = [model, str(quality), f"{t['bpp']:.4f} / {f['bpp']:.4f}",
                     f"{t['psnr']:.3f} / {f['psnr']:.3f}",
                     f"{t['ms-ssim']:.5f} / {f['ms-ssim']:.5f}"]
            for column in ratios:
                ratios[column].append(f[column] / t[column])
                cells.append(f"{t[column]:.3f} / {f[column]:.3f} ({f[column] / t[column]:.1f}×)")
            print("| " + " | ".join(cells) + " |")
    for column, values in ratios.items():
        series = pd.Series(values)
        print(f"\nTF/torch {column}: median {series.median():.2f}×, "
              f"range {series.min():.2f}–{series.max():.2f}×")


if __name__ == "__main__":
    main()
