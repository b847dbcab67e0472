"""Harness overhead for a learned codec: `torch/bmshj2018-hyperprior` through codecbench vs
a bare CompressAI loop, same weights, same images, same device (CPU).

* bare: for every rate point, load the shipped weights once; for every sample photo,
  pad to a multiple of 64, ``model.compress``, ``model.decompress``, crop, round to
  8 bits, and compute bpp (of the strings alone) and PSNR;
* harness: ``run_evaluation`` of the codec on the sample set with the bpp and PSNR
  metrics, ``-j 1`` — which additionally writes the container, computes the entropy
  model's estimate, checks the decoded image, commits each row to SQLite and writes
  the CSV/JSON exports.

Each measurement is the median of the ratios of ``--repeats`` paired runs (bare, then
harness, back to back), which cancels the CPU-speed drift of a shared machine. Models
are loaded inside both timed regions (the harness loads them once per run too).

Usage: ``python benchmarks/learned_overhead.py [--repeats 5]``. Goal: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from paired_timing import harness_on_sample, timed

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec
from codecbench.codecs.learned.hyperprior.torch.pipeline import image_to_tensor, tensor_to_image
from codecbench.codecs.learned.models import LEARNED_MODELS
from codecbench.datasets.builtin import sample_dataset

SLUG = "bmshj2018-hyperprior"


def bare_loop(images) -> list[tuple[int, float, float]]:
    results = []
    for quality in LEARNED_MODELS[SLUG].qualities:
        model, _ = weights_io.load_model(weights_locator.find_weights("torch", SLUG, quality))
        for image in images:
            height, width = image.shape[:2]
            with torch.inference_mode():
                out = model.compress(image_to_tensor(image, 64))
                x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
            decoded = tensor_to_image(x_hat, height, width)
            payload = sum(len(s[0]) for s in out["strings"])
            diff = image.astype(np.int32) - decoded
            mse = float(np.multiply(diff, diff, out=diff).sum(dtype=np.int64)) / diff.size
            results.append((quality, 8.0 * payload / (height * width),
                            10 * math.log10(255.0**2 / mse)))
    return results


def harness_run(out_dir: Path):
    return harness_on_sample(TorchLearnedCodec(LEARNED_MODELS[SLUG]), out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    dataset = sample_dataset()
    images = [dataset.load(image_id) for image_id in dataset.image_ids()]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        summary = harness_run(tmp / "warm")  # warm-up, and the two compute the same PSNR
        bare = bare_loop(images)
        board = summary.leaderboard
        for quality in LEARNED_MODELS[SLUG].qualities:
            bare_psnr = np.mean([r[2] for r in bare if r[0] == quality])
            harness_psnr = float(board[board.quality == str(quality)]["psnr"].iloc[0])
            assert abs(bare_psnr - harness_psnr) < 1e-9, (quality, bare_psnr, harness_psnr)
        ratios, extra = [], []
        for i in range(args.repeats):
            bare_s = timed(bare_loop, images)
            harness_s = timed(harness_run, tmp / f"run{i}")
            ratios.append(harness_s / bare_s)
            extra.append(harness_s - bare_s)
    print(f"workload: {SLUG} x {len(LEARNED_MODELS[SLUG].qualities)} rate points x "
          f"{len(images)} sample photos = {len(bare)} tasks, CPU, -j 1, torch threads "
          f"{torch.get_num_threads()}")
    print(f"harness/bare ratio: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}) over {len(ratios)} paired runs")
    print(f"harness extra time per run: median {statistics.median(extra):.2f} s "
          f"({statistics.median(extra) / len(bare) * 1000:.0f} ms per task)")


if __name__ == "__main__":
    main()
