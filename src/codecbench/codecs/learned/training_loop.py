"""The framework-neutral part of every ``codecbench train`` run.

A framework's trainer (``codecs/learned/hyperprior/torch/training.py``, ``codecs/learned/hyperprior/tf/training.py``) builds
its model, optimisers and checkpoint format, and hands this module two callbacks: one
optimisation step and one checkpoint write. This module owns what must be the same for
every framework:

* the training images (every image of the folder, decoded once; too-small ones named);
* the step learning-rate schedule ``lr = lr₀ · γ^k`` (``k`` milestones passed, computed
  from the step so a resumed or extended run follows it);
* the resume rule: a run folder is continued only with the same settings
  (:data:`~codecbench.api.training.RESUME_INSENSITIVE` may change);
* ``curves.csv`` (one row per ``log_every`` steps, interval averages; rows past the
  checkpoint a resumed run restarts from are dropped), the progress bar, checkpoints
  every ``checkpoint_every`` steps, at the time limit and at the end;
* ``training.json`` (configuration, data, hardware, time, final losses).
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.api.training import RESUME_INSENSITIVE, TrainingConfig, TrainingResult

CURVE_COLUMNS = ("step", "loss", "bpp", "distortion", "psnr", "aux_loss", "lr", "elapsed_s")
LOSS_KEYS = ("loss", "bpp", "distortion", "aux_loss")


class TrainingError(ValueError):
    """A training run cannot start or continue as asked (message says why)."""


def load_training_images(folder: Path, patch_size: int) -> list[np.ndarray]:
    """Every image under ``folder`` (recursively) as ``H×W×3`` uint8, at least one patch big."""
    from codecbench.datasets.folder import FolderDataset

    dataset = FolderDataset(folder, recursive=True)
    try:
        ids = dataset.image_ids()
    except FileNotFoundError as exc:
        raise TrainingError(str(exc)) from None
    images, too_small = [], []
    for image_id in ids:
        array = dataset.load(image_id)
        if min(array.shape[:2]) < patch_size:
            too_small.append(f"{image_id} ({array.shape[1]}×{array.shape[0]})")
            continue
        images.append(array)
    if not images:
        raise TrainingError(f"every image under {folder} is smaller than the "
                            f"{patch_size}px patch: {', '.join(too_small[:5])}")
    return images


MS_SSIM_MIN_PATCH = 161
"""MS-SSIM's five scales need an image of more than (11 − 1) · 2⁴ pixels (Wang et al. 2003)."""


def check_patch_size(config: TrainingConfig, multiple: int, codec_name: str) -> None:
    """The patch must tile the latent grid (and, for MS-SSIM, hold its five scales)."""
    if config.metric == "ms-ssim" and config.patch_size < MS_SSIM_MIN_PATCH:
        raise TrainingError(f"--metric ms-ssim needs --patch-size of at least "
                            f"{MS_SSIM_MIN_PATCH} (five scales of an 11-pixel window), "
                            f"got {config.patch_size}")
    if config.patch_size % multiple:
        raise TrainingError(f"--patch-size must be a multiple of {multiple} for {codec_name} "
                            f"(its latents are 1/{multiple} of the image size), "
                            f"got {config.patch_size}")


def refuse_gan_options(config: TrainingConfig, codec_name: str) -> None:
    """Options of adversarial training only (``--warmup``) on a model without a GAN."""
    if config.warmup is not None:
        raise TrainingError(f"--warmup applies to GAN-family models; {codec_name} is not one")


def adversarial_warmup_steps(config: TrainingConfig, adversarial) -> int:
    """Steps before the adversarial term starts: ``--warmup`` or the table's fraction."""
    fraction = adversarial.warmup if config.warmup is None else config.warmup
    return int(fraction * config.steps)


def lambda_of_run(entry, config: TrainingConfig) -> float:
    """λ of a rate-distortion run: ``--lambda``, else the table's λ of ``--quality``."""
    if config.lmbda is not None:
        return config.lmbda
    if config.quality is None:
        raise TrainingError("give a rate point (--quality) or a λ (--lambda)")
    return entry.lambda_of(config.quality)


def learning_rate(config: TrainingConfig, base: float, step: int) -> float:
    """``base · gamma^k`` with ``k`` the number of milestones (fractions of steps) passed."""
    passed = sum(step >= int(fraction * config.steps) for fraction in config.lr_milestones)
    return base * config.lr_gamma**passed


def check_resumable(saved_config: dict, config: TrainingConfig, out: Path) -> None:
    """Refuse to continue a run whose settings differ (other than the insensitive ones)."""
    def comparable(record):
        return {k: v for k, v in record.items() if k not in RESUME_INSENSITIVE}

    old, new = comparable(saved_config), comparable(config.to_json())
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    if changed:
        raise TrainingError(
            f"{out} holds a run with other settings ({', '.join(changed)}); resume it with "
            "the same options or train into another --out folder"
        )


def cpu_description() -> str:
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def rewrite_curves(path: Path, up_to_step: int) -> None:
    """Drop the rows logged after the checkpoint a resumed run restarts from."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if int(row["step"]) <= up_to_step]
        columns = reader.fieldnames or CURVE_COLUMNS
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def last_logged_interval(path: Path) -> dict:
    """The last row of ``curves.csv`` as numbers (``{}`` without one); empty cells stay ""."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: float(value) if value else "" for key, value in rows[-1].items()
            if key not in ("step", "psnr", "lr", "elapsed_s")}


@dataclass
class LoopState:
    """Where a run stands: steps done, seconds trained, the last logged interval."""

    step: int = 0
    elapsed: float = 0.0
    last: dict | None = None


def run_steps(config: TrainingConfig, description: str, state: LoopState,
              train_step: Callable[[int, float], dict], save_checkpoint: Callable[[], None],
              extra_keys: tuple[str, ...] = ()) -> LoopState:
    """Call ``train_step(step, lr)`` until ``config.steps`` or the time limit.

    ``train_step`` returns the step's ``loss``, ``bpp``, ``distortion`` and ``aux_loss``
    (``None`` when the framework has no auxiliary loss) as floats, plus ``extra_keys``
    (extra ``curves.csv`` columns, averaged over the steps where they are finite; empty
    when none was, e.g. a discriminator loss during warm-up). ``state`` is advanced
    in place before each ``save_checkpoint()`` so that the callback can store it.
    """
    from tqdm import tqdm

    curves_path = Path(config.out) / "curves.csv"
    new_file = not curves_path.exists()
    curves = curves_path.open("a", newline="")
    writer = csv.DictWriter(curves, CURVE_COLUMNS + tuple(extra_keys))
    if new_file:
        writer.writeheader()
    sums = dict.fromkeys(LOSS_KEYS, 0.0)
    extra_sums = {key: [0.0, 0] for key in extra_keys}
    count = 0
    started = time.monotonic() - state.elapsed
    session_start = time.monotonic()
    state.last = state.last or {}
    bar = tqdm(total=config.steps, initial=state.step, disable=not config.progress,
               desc=description, unit="step")
    try:
        while state.step < config.steps:
            lr = learning_rate(config, config.learning_rate, state.step)
            losses = train_step(state.step, lr)
            state.step += 1
            count += 1
            for key in LOSS_KEYS:
                sums[key] += losses.get(key) or 0.0
            for key, total in extra_sums.items():
                value = losses.get(key)
                if value is not None and math.isfinite(value):
                    total[0] += value
                    total[1] += 1
            has_aux = losses.get("aux_loss") is not None
            bar.update(1)
            state.elapsed = time.monotonic() - started
            if state.step % config.log_every == 0 or state.step == config.steps:
                last: dict[str, Any] = {key: value / count for key, value in sums.items()}
                if not has_aux:
                    last["aux_loss"] = ""
                psnr = (10 * math.log10(1.0 / last["distortion"])
                        if config.metric == "mse" and last["distortion"] > 0 else "")
                extras = {key: total / n if n else ""
                          for key, (total, n) in extra_sums.items()}
                writer.writerow({"step": state.step, **last, "psnr": psnr, "lr": lr,
                                 "elapsed_s": round(state.elapsed, 3), **extras})
                curves.flush()
                bar.set_postfix(loss=f"{last['loss']:.4f}", bpp=f"{last['bpp']:.3f}")
                state.last = last
                state.last.update(extras)
                sums = dict.fromkeys(sums, 0.0)
                extra_sums = {key: [0.0, 0] for key in extra_keys}
                count = 0
            out_of_time = (config.time_limit_s is not None
                           and time.monotonic() - session_start >= config.time_limit_s)
            if (state.step % config.checkpoint_every == 0 or state.step == config.steps
                    or out_of_time):
                save_checkpoint()
            if out_of_time:
                break
    finally:
        bar.close()
        curves.close()
    return state


def run_to_completion(config: TrainingConfig, description: str, state: LoopState,
                      train_step: Callable[[int, float], dict],
                      save_checkpoint: Callable[[], None], export: Callable[[], Path],
                      extra_keys: tuple[str, ...] = ()) -> TrainingResult:
    """:func:`run_steps`, then ``export()`` (the weights file's path) once every step is done.

    A run stopped by the time limit exports nothing; running it again continues it.
    """
    run_steps(config, description, state, train_step, save_checkpoint, extra_keys)
    if not state.last:  # resumed at its last step: the last logged interval is on file
        state.last = last_logged_interval(Path(config.out) / "curves.csv")
    finished = state.step >= config.steps
    return TrainingResult(out=Path(config.out), step=state.step, finished=finished,
                          weights=export() if finished else None, final=state.last)


def write_training_record(out: Path, record: dict) -> None:
    """``training.json``: ``record`` plus the time the run finished."""
    record = {**record, "finished_utc": datetime.datetime.now(datetime.UTC)
              .isoformat(timespec="seconds")}
    (Path(out) / "training.json").write_text(json.dumps(record, indent=2) + "\n")


def weights_metadata(entry, codec_name: str, config: TrainingConfig, lmbda: float, N: int,
                     M: int, step: int) -> dict[str, str]:
    """The string metadata every exported weights file carries."""
    return {"model": entry.slug, "class": entry.compressai_class, "N": str(N), "M": str(M),
            "quality": str(config.quality or 0), "lambda": repr(lmbda),
            "metric": config.metric, "steps": str(step), "codec": codec_name}


def training_record(entry, codec_name: str, config: TrainingConfig, lmbda: float, N: int,
                    M: int, state: LoopState, hardware: str, n_images: int, parent,
                    versions: dict, weights_id: str) -> dict:
    """The ``training.json`` content shared by every framework."""
    return {
        "codec": codec_name, "model": entry.slug, "paper": entry.paper,
        "lambda": lmbda, "metric": config.metric, "N": N, "M": M, "steps": state.step,
        "train_seconds": round(state.elapsed, 1), "hardware": hardware,
        "data": {"folder": str(config.data), "images": n_images},
        "final_interval": state.last, "parent": parent, "config": config.to_json(),
        "versions": versions, "weights_id": weights_id,
    }
