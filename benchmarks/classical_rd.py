"""Classical codecs at matched rates on the sample set (the table in docs/results.md).

Runs (or resumes) ``codecbench run`` with every available classical codec and all metrics
on the bundled sample set, then reads PSNR and MS-SSIM-dB off each codec's mean RD curve
at 0.25, 0.5 and 1.0 bpp (linear interpolation; no extrapolation) and prints a Markdown
table sorted by PSNR at 0.5 bpp.

Usage: ``python benchmarks/classical_rd.py [--out DIR] [-j 2]`` (minutes: the ffmpeg codecs
start a process per image).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from codecbench.report.rd import matched_rate_table

CODECS = ["jpeg", "jpeg-444", "jpeg2000", "webp", "avif", "hevc-intra", "hevc-intra-420",
          "jpegxl", "ffmpeg-x265", "ffmpeg-av1"]
TARGETS = (0.25, 0.5, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("codecbench-results/classical-sample"))
    parser.add_argument("-j", "--jobs", default="2")
    args = parser.parse_args()
    command = [sys.executable, "-m", "codecbench", "run", "--out", str(args.out), "-j",
               args.jobs, "--no-progress"]
    for codec in CODECS:
        command += ["--codec", codec]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    board = pd.read_csv(args.out / "leaderboard.csv")
    psnr = matched_rate_table(board, "psnr", TARGETS)
    msssim = matched_rate_table(board, "ms-ssim-db", TARGETS)
    table = psnr.merge(msssim, on=["dataset", "codec", "family"])
    table = table.sort_values(f"psnr@{TARGETS[1]:g}bpp", ascending=False)
    shown = table.drop(columns=["dataset", "family"])
    print("| " + " | ".join(shown.columns) + " |")
    print("|" + "---|" * len(shown.columns))
    for row in shown.itertuples(index=False):
        cells = [row[0]] + ["–" if pd.isna(v) else f"{v:.2f}" for v in row[1:]]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
