"""What the recipes of the one-network learned models share (one weights file for every
rate point: ``mentzer2018-context``, ``klopp2018-codespace``, ``minnen2017-tiled``).

One ``codecbench train CODEC`` run on the training split of the photos, up to ``--steps``
or a safety ``--minutes`` time limit; a run stopped by the limit is exported at the step
its checkpoint reached (the same command with ``--steps`` lowered to that step, which the
scaffold's resume allows: it trains nothing more and exports). Then the weights and the
training record are copied into ``--weights-out`` as ``<slug>.safetensors`` and
``<slug>.training.json``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def train(codec: str, data: Path, out: Path, steps: int, options: Sequence[str],
          minutes: float | None) -> str:
    """One ``codecbench train`` invocation (its output echoed); returns that output."""
    command = [sys.executable, "-m", "codecbench", "train", codec, "--data", str(data),
               "--split", "train", "--out", str(out), "--steps", str(steps), "--no-progress",
               *options]
    if minutes:
        command += ["--time-limit", str(minutes)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    print(done.stdout, end="")
    return done.stdout


def reached_step(output: str) -> int:
    """The step of the checkpoint a run stopped by its time limit wrote."""
    found = re.search(r"stopped at step (\d+)", output)
    if found is None:
        raise SystemExit(f"the run neither finished nor stopped at a step:\n{output}")
    return int(found.group(1))


def main(codec: str, options: Sequence[str], steps: int, minutes: float,
         description: str) -> None:
    """The command line of a recipe: ``--data``, ``--out``, ``--weights-out``, ``--steps``,
    ``--minutes``."""
    slug = codec.split("/", 1)[1]
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the run folder")
    parser.add_argument("--weights-out", type=Path, required=True,
                        help="where the weights and training record are copied")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--minutes", type=float, default=minutes,
                        help="the safety time limit of the run")
    args = parser.parse_args()
    output = train(codec, args.data, args.out, args.steps, options, args.minutes)
    weights = args.out / f"{slug}.safetensors"
    if not weights.exists():  # stopped by the time limit: export where it stopped
        train(codec, args.data, args.out, reached_step(output), options, None)
    args.weights_out.mkdir(parents=True, exist_ok=True)
    shutil.copy(weights, args.weights_out / weights.name)
    shutil.copy(args.out / "training.json", args.weights_out / f"{slug}.training.json")
