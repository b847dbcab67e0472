"""What one variable-rate network costs and gives against one network per rate point.

Three ways to get the five rate points of ``torch/bmshj2018-hyperprior`` (a small width, so
the measurement runs on a CPU), trained with ``codecbench``'s own trainer on the training
split of a photo folder and evaluated on its held-out split (``--split``, by file name):

* ``variable``: one network with gain units (``--variable-rate``), ``S`` steps;
* ``per-point``: five networks, ``S`` steps each (5× the training);
* ``per-point-equal``: five networks, ``S/5`` steps each (the same training as ``variable``).

Prints the training steps and CPU seconds of each (CPU time of this process, which other
work on the machine hardly changes, unlike wall time), their ratio to ``variable``, the
held-out bpp / PSNR per rate point (real files: container and rANS strings), and the
BD-rate (PSNR, PCHIP) of ``variable`` against each per-point set.

Usage: ``python benchmarks/variable_rate_cost.py --data PHOTOS [--steps 600] [--channels 32 32]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from codecbench.api.training import TrainingConfig
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec
from codecbench.codecs.learned.hyperprior.torch.training import train
from codecbench.codecs.learned.models import LEARNED_MODELS
from codecbench.datasets.folder import FolderDataset
from codecbench.report.rd import bd_rate

SLUG = "bmshj2018-hyperprior"
ENTRY = LEARNED_MODELS[SLUG]
EVALUATION_CROP = 256


def train_runs(data: Path, out: Path, steps: int, channels, variable: bool) -> list[Path]:
    common = dict(data=data, split="train", steps=steps, batch_size=8, patch_size=128,
                  learning_rate=1e-3 if steps < 2000 else 1e-4, channels=tuple(channels),
                  progress=False, checkpoint_every=max(steps, 1), lr_milestones=(0.8,))
    if variable:
        result = train(ENTRY, f"torch/{SLUG}",
                       TrainingConfig(out=out / "variable", variable_rate=True, **common))
        return [result.weights]
    return [train(ENTRY, f"torch/{SLUG}",
                  TrainingConfig(out=out / f"q{q}", quality=q, **common)).weights
            for q in ENTRY.qualities]


def evaluate(files: list[Path], images) -> list[tuple[float, float]]:
    """Mean bpp and PSNR over ``images`` per rate point."""
    import os

    folder = files[0].parent if len(files) == 1 else None
    points = []
    for quality in ENTRY.qualities:
        weights = folder or files[quality - 1].parent
        os.environ["CODECBENCH_TORCH_WEIGHTS"] = str(weights)
        codec = TorchLearnedCodec(ENTRY)
        bpps, psnrs = [], []
        for image in images:
            data = bytes(codec.encode(image, quality))
            decoded = codec.decode(data).astype(np.float64)
            mse = float(np.mean((decoded - image) ** 2))
            bpps.append(8 * len(data) / (image.shape[0] * image.shape[1]))
            psnrs.append(10 * math.log10(255**2 / mse))
        points.append((float(np.mean(bpps)), float(np.mean(psnrs))))
    return points


def held_out_crops(data: Path) -> list[np.ndarray]:
    dataset = FolderDataset(data, recursive=True, split="held-out")
    crops = []
    for image_id in dataset.image_ids():
        image = dataset.load(image_id)
        top = (image.shape[0] - EVALUATION_CROP) // 2
        left = (image.shape[1] - EVALUATION_CROP) // 2
        crops.append(image[top:top + EVALUATION_CROP, left:left + EVALUATION_CROP])
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--channels", type=int, nargs=2, default=(32, 32))
    args = parser.parse_args()
    import codecbench.codecs.learned.weights_locator as locator

    locator.shipped_weights_folder = lambda: None  # only the weights trained here
    images = held_out_crops(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        setups = {"variable": (args.steps, True), "per-point": (args.steps, False),
                  "per-point-equal": (max(args.steps // len(ENTRY.qualities), 1), False)}
        seconds, curves = {}, {}
        total_steps = {}
        for name, (steps, variable) in setups.items():
            start = time.process_time()
            files = train_runs(args.data, Path(tmp) / name, steps, args.channels, variable)
            seconds[name] = time.process_time() - start
            total_steps[name] = steps * (1 if variable else len(ENTRY.qualities))
            curves[name] = evaluate(files, images)
    print(f"{len(images)} held-out crops of {EVALUATION_CROP}², N M = {args.channels}, "
          f"S = {args.steps} steps")
    print("| setup | steps | training CPU s | × variable | rate points: bpp / PSNR dB | "
          "BD-rate of variable vs it |")
    print("|---|---|---|---|---|---|")
    for name, points in curves.items():
        text = "; ".join(f"{bpp:.3f} / {psnr:.2f}" for bpp, psnr in points)
        bd = "–"
        if name != "variable":
            value, reason = bd_rate([b for b, _ in points], [p for _, p in points],
                                    [b for b, _ in curves["variable"]],
                                    [p for _, p in curves["variable"]])
            bd = reason or f"{value:+.1f} %"
        print(f"| {name} | {total_steps[name]} | {seconds[name]:.0f} | "
              f"{seconds[name] / seconds['variable']:.2f} | {text} | {bd} |")


if __name__ == "__main__":
    main()
