"""Held-out rate–distortion of a training run against its steps, and the steps a BD-rate
target would need (extrapolated from those measurements).

While ``codecbench train`` runs, copies of its ``checkpoint.pt`` are kept as
``<slug>-<step>.pt`` in ``--snapshots``. For each snapshot this script

1. exports the weights at that step: the run's own ``codecbench train`` command (the
   options after ``--``) with ``--steps`` lowered to the snapshot's step, in a scratch
   folder holding the snapshot as its checkpoint, so nothing is trained;
2. evaluates them on the held-out photos (``codecbench run --dataset DATA --split
   held-out``), next to one JPEG run on the same photos;
3. computes the BD-rate against JPEG (PSNR, PCHIP, over the common PSNR range) with
   :func:`codecbench.report.rd.bd_rate`, the function ``codecbench leaderboard`` uses.

Then the BD-rate's change between the last two snapshots that have one is extended in a
straight line to ``--target`` (:func:`last_interval_extrapolation`): an extrapolation of
measured points, stated as such — training curves flatten, so the real budget is larger,
and a learning-rate decay inside that interval makes it a rough guide only. Usage::

    python scripts/heldout_training_curve.py --data TRAIN_PHOTOS --snapshots SNAP \\
        --slug bmshj2018-hyperprior --out OUT -- --variable-rate --batch-size 8 ...
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from codecbench.report.rd import bd_rate


def codecbench(*arguments: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, "-m", "codecbench", *arguments], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def held_out_board(data: Path, codec: str, out: Path, weights: Path | None = None):
    """``leaderboard.csv`` of ``codec`` on the held-out photos (resumed if already run)."""
    environment = dict(os.environ)
    if weights is not None:
        environment["CODECBENCH_TORCH_WEIGHTS"] = str(weights)
    codecbench("run", "--dataset", str(data), "--split", "held-out", "--codec", codec,
               "--metric", "psnr", "--out", str(out), "--no-progress", env=environment)
    return pd.read_csv(out / "leaderboard.csv")


def export(slug: str, snapshot: Path, step: int, data: Path, out: Path,
           train_options: list[str]) -> Path:
    """The weights at ``step`` of the run whose checkpoint ``snapshot`` is."""
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{slug}.safetensors"
    if not weights.exists():
        shutil.copy(snapshot, out / "checkpoint.pt")
        codecbench("train", f"torch/{slug}", "--data", str(data), "--split", "train",
                   "--out", str(out), "--steps", str(step), "--no-progress", *train_options)
    return out


def last_interval_extrapolation(curve: pd.DataFrame, target: float
                                ) -> tuple[float | None, str]:
    """``(steps, sentence)``: the total steps at which the BD-rate would reach ``target``
    if it kept changing as between the last two snapshots with a BD-rate (``None`` when it
    did not improve there, or fewer than two have one)."""
    measured = curve[curve["bd_rate_vs_jpeg"].notna()].sort_values("step")
    if len(measured) < 2:
        return None, "fewer than two checkpoints have a BD-rate: no trend to extend"
    (first, a), (last, b) = [(int(row["step"]), float(row["bd_rate_vs_jpeg"]))
                             for _, row in measured.tail(2).iterrows()]
    per_1000 = (b - a) / (last - first) * 1000
    change = (f"between steps {first} and {last} the BD-rate moved {per_1000:+.1f} points "
              "per 1000 steps")
    if b <= target:
        return float(last), f"the target is reached at step {last}"
    if per_1000 >= 0:
        return None, f"{change}: no improvement to extend"
    needed = last + (target - b) / per_1000 * 1000
    return needed, (f"{change}; at that rate {target:+.0f} % needs ≈ {needed:,.0f} steps, "
                    f"{needed / last:.2g}× this run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the training photos")
    parser.add_argument("--snapshots", type=Path, required=True)
    parser.add_argument("--slug", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--target", type=float, default=-25.0, help="BD-rate %% vs JPEG")
    parser.add_argument("--every", type=int, default=1,
                        help="evaluate only the snapshots whose step is a multiple of this")
    parser.add_argument("train_options", nargs=argparse.REMAINDER,
                        help="after --: the run's codecbench train options")
    args = parser.parse_args()
    train_options = [option for option in args.train_options if option != "--"]
    owned = sorted({"--steps", "--out", "--data"} & {option.split("=")[0] for option in train_options})
    if owned:
        parser.error(f"{', '.join(owned)} must not be among the run's options: this script "
                     "sets them per snapshot (a later --steps would train instead of export)")
    jpeg = held_out_board(args.data, "jpeg", args.out / "jpeg")
    rows = []
    snapshots = {}
    for path in args.snapshots.glob(f"{args.slug}-*.pt"):
        found = re.fullmatch(rf"{re.escape(args.slug)}-(\d+)", path.stem)
        if found is not None and int(found.group(1)) % args.every == 0:
            snapshots[int(found.group(1))] = path
    for step, snapshot in sorted(snapshots.items()):
        weights = export(args.slug, snapshot, step, args.data,
                         args.out / f"weights-{step}", train_options)
        board = held_out_board(args.data, f"torch/{args.slug}", args.out / f"run-{step}",
                               weights).sort_values("bpp")
        value, reason = bd_rate(jpeg["bpp"], jpeg["psnr"], board["bpp"], board["psnr"])
        top = board.iloc[-1]
        rows.append({"step": step, "bd_rate_vs_jpeg": value if reason == "" else math.nan,
                     "lowest_bpp": board["bpp"].iloc[0], "lowest_psnr": board["psnr"].iloc[0],
                     "top_bpp": top["bpp"], "top_psnr": top["psnr"]})
        print(f"{args.slug} step {step}: BD-rate {value:+.1f} % {reason}; top point "
              f"{top['bpp']:.3f} bpp / {top['psnr']:.2f} dB", flush=True)
    curve = pd.DataFrame(rows)
    curve.to_csv(args.out / f"{args.slug}-curve.csv", index=False)
    _, sentence = last_interval_extrapolation(curve, args.target)
    print(f"{args.slug}: {sentence} (a straight-line extrapolation)")

if __name__ == "__main__":
    main()
