"""The framework-neutral part of every ``codecbench train`` run: one scaffold for all.

:class:`Training` is the scaffold. A framework's subclass
(:class:`codecbench.codecs.learned.torch.training.TorchTraining`, the TensorFlow trainer
of the hyperprior family) builds the networks from the seed, takes each optimisation
step and reads and writes its checkpoint; a family plugs into it by supplying only its
model and optimisers, its step and its export. This module owns what must be the same
for every framework and family:

* the training images (every image of the folder, decoded once; too-small ones named);
* the step learning-rate schedule ``lr = lr₀ · γ^k`` (``k`` milestones passed, computed
  from the step so a resumed or extended run follows it);
* the resume rule: a run folder is continued only with the same settings
  (:data:`~codecbench.api.training.RESUME_INSENSITIVE` may change);
* ``curves.csv`` (one row per ``log_every`` steps, interval averages; rows past the
  checkpoint a resumed run restarts from are dropped), the progress bar, checkpoints
  every ``checkpoint_every`` steps, at the time limit and at the end;
* ``training.json``, written once when the last step is done: :data:`RECORD_KEYS`
  (configuration, data, hardware, time, final losses, lineage, versions) for every run,
  plus the entries the family's export returns.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.api.training import (
    PERCEPTUAL_WEIGHT,
    RESUME_INSENSITIVE,
    TrainingConfig,
    TrainingResult,
)
from codecbench.codecs.learned import weights_format

CURVE_COLUMNS = ("step", "loss", "bpp", "distortion", "psnr", "aux_loss", "lr", "elapsed_s")
LOSS_KEYS = ("loss", "bpp", "distortion", "aux_loss")
RECORD_KEYS = ("codec", "model", "paper", "steps", "train_seconds", "hardware", "data",
               "final_interval", "parent", "config", "versions", "weights_id", "finished_utc")
"""The keys of every ``training.json``, whatever the framework and family."""


class TrainingError(ValueError):
    """A training run cannot start or continue as asked (message says why)."""


def load_training_images(folder: Path, patch_size: int, split: str = "all") -> list[np.ndarray]:
    """Every image under ``folder`` (recursively) in ``split`` (:mod:`codecbench.datasets.split`)
    as ``H×W×3`` uint8, at least one patch big."""
    from codecbench.datasets.folder import FolderDataset

    try:
        dataset = FolderDataset(folder, recursive=True, split=split)
        ids = dataset.image_ids()
    except (FileNotFoundError, ValueError) as exc:
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


def learning_rate(config: TrainingConfig, base: float, step: int) -> float:
    """``base · gamma^k`` with ``k`` the number of milestones (fractions of steps) passed."""
    passed = sum(step >= int(fraction * config.steps) for fraction in config.lr_milestones)
    return base * config.lr_gamma**passed


def check_resumable(saved_config: dict, config: TrainingConfig, out: Path) -> None:
    """Refuse to continue a run whose settings differ (other than the insensitive ones)."""
    def comparable(record):
        # runs saved before these options existed: every image, one rate point
        record = {"split": "all", "variable_rate": False, "loss": "rate-distortion",
                  "perceptual_weight": PERCEPTUAL_WEIGHT, **record}
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
    resumed_at = time.monotonic()
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
                           and time.monotonic() - resumed_at >= config.time_limit_s)
            if (state.step % config.checkpoint_every == 0 or state.step == config.steps
                    or out_of_time):
                save_checkpoint()
            if out_of_time:
                break
    finally:
        bar.close()
        curves.close()
    return state


class Training(ABC):
    """One ``codecbench train`` run of ``entry`` as ``codec_name``; see the module docstring.

    :meth:`run` calls, in order: :meth:`prepare` (the family checks its options), then,
    in the run folder, :meth:`start` (the framework builds the networks from the seed and
    continues the folder's checkpoint or starts from ``--init-from``), :meth:`load_images`,
    :meth:`advance` for every step (:meth:`save_checkpoint` as configured), and once the
    last step is done :meth:`export` and ``training.json``. A run stopped by the time
    limit exports nothing; running it again continues it.
    """

    extra_keys: tuple[str, ...] = ()
    """``curves.csv`` columns of the family's own, returned by its step (see :func:`run_steps`)."""
    variable_rate = False
    """Whether the run trains one network for every rate point of a λ ladder
    (``--variable-rate``); other trainers refuse the option."""
    perceptual_loss = False
    """Whether the trainer adds the perceptual term of ``--loss perceptual`` to its
    distortion; other trainers refuse the option."""

    def __init__(self, entry, codec_name: str, config: TrainingConfig):
        self.entry, self.codec_name, self.config = entry, codec_name, config
        self.out = Path(config.out)
        self.state = LoopState()
        self.parent: dict | None = None
        self.images: list = []

    # -- supplied by the family

    @abstractmethod
    def prepare(self) -> None:
        """Check the options against the model and derive the run's settings."""

    def description(self) -> str:
        """The progress bar's label."""
        return f"train {self.codec_name}"

    @abstractmethod
    def export(self) -> tuple[Path, dict]:
        """Write the weights file; returns its path and the family's ``training.json``
        entries (model-specific: widths, λ, …; never one of :data:`RECORD_KEYS`)."""

    # -- supplied by the framework

    @abstractmethod
    def start(self) -> None:
        """Build the networks from ``config.seed``; set ``state`` and ``parent`` (the
        lineage) from the run folder's checkpoint, from ``--init-from``, or afresh."""

    @abstractmethod
    def load_images(self) -> list:
        """The training images, as the framework's step samples them."""

    @abstractmethod
    def advance(self, step: int, lr: float) -> dict:
        """Optimisation step ``step`` at learning rate ``lr``; its losses (:func:`run_steps`)."""

    @abstractmethod
    def save_checkpoint(self) -> None:
        """Write everything a resumed run needs to continue exactly (atomically)."""

    @abstractmethod
    def hardware(self) -> str:
        """The device the run trained on, in words."""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """The versions of the libraries that trained the model."""

    # -- the scaffold

    def run(self) -> TrainingResult:
        """Train (or continue training) as configured; see the class docstring."""
        if self.config.variable_rate and not self.variable_rate:
            raise TrainingError(f"--variable-rate applies to the λ-trained CNN models; "
                                f"{self.codec_name} does not train one with it")
        if self.config.loss == "perceptual" and not self.perceptual_loss:
            reason = (f"train torch/{self.codec_name.split('/', 1)[1]} with it and convert"
                      if self.codec_name.startswith("tf/")
                      else f"{self.codec_name} trains with a loss of its own")
            raise TrainingError("--loss perceptual applies to the rate–distortion-trained CNN "
                                f"models in PyTorch: {reason}")
        self.prepare()
        self.out.mkdir(parents=True, exist_ok=True)
        self.start()
        self.images = self.load_images()
        run_steps(self.config, self.description(), self.state, self.advance,
                  self.save_checkpoint, self.extra_keys)
        if not self.state.last:  # resumed at its last step: the last logged interval is on file
            self.state.last = last_logged_interval(self.out / "curves.csv")
        finished = self.state.step >= self.config.steps
        weights = None
        if finished:
            weights, details = self.export()
            write_training_record(self.out, self.record(weights, details))
        return TrainingResult(out=self.out, step=self.state.step, finished=finished,
                              weights=weights, final=self.state.last)

    def record(self, weights: Path, details: dict) -> dict:
        """``training.json`` of a finished run: :data:`RECORD_KEYS` and ``details``."""
        clashes = details.keys() & set(RECORD_KEYS)
        if clashes:
            raise ValueError(f"a family's entries may not replace {sorted(clashes)}")
        return {
            "codec": self.codec_name, "model": self.entry.slug, "paper": self.entry.paper,
            **details,
            "steps": self.state.step, "train_seconds": round(self.state.elapsed, 1),
            "hardware": self.hardware(),
            "data": {"folder": str(self.config.data), "split": self.config.split,
                     "images": len(self.images)},
            "final_interval": self.state.last, "parent": self.parent,
            "config": self.config.to_json(), "versions": self.versions(),
            "weights_id": weights_format.weights_id(weights).hex(),
            "finished_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }


def write_training_record(out: Path, record: dict) -> None:
    """``training.json`` in the run folder ``out``."""
    (Path(out) / "training.json").write_text(json.dumps(record, indent=2) + "\n")
