"""``codecbench train torch/<model>``: rate–distortion training of a CompressAI model.

The loop of Ballé et al. (2017, 2018) as CompressAI trains its zoo:

* a batch of random ``patch_size²`` crops (random horizontal flips) from the training
  images, which are decoded once and kept in memory (on the training device);
* ``L = λ·255²·MSE + bpp`` (or ``λ·(1 − MS-SSIM) + bpp``), CompressAI's
  ``RateDistortionLoss``, with additive uniform noise standing in for quantisation;
* Adam on the network, and a second Adam on the entropy bottleneck's quantiles
  minimising CompressAI's auxiliary loss;
* a step learning-rate schedule (×``lr_gamma`` after each milestone fraction of
  ``steps``), computed from the step number so that a resumed or extended run follows it.

Everything needed to continue is in ``checkpoint.pt`` (model, both optimisers, step,
crop-sampler and RNG states, elapsed time), written atomically every
``checkpoint_every`` steps, at the time limit and at the end; a run restarted with the
same folder continues from it. ``curves.csv`` gets one row per ``log_every`` steps
(averages over the interval). At the last step the model's CDFs are computed and
``<model>-q<quality>.safetensors`` (a ``CODECBENCH_TORCH_WEIGHTS`` folder as is) and
``training.json`` (configuration, data, hardware, time,
final losses) are written.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import time
from pathlib import Path

import torch
from tqdm import tqdm

from codecbench.core.training import RESUME_INSENSITIVE, TrainingConfig, TrainingResult
from codecbench.plugins.learned_models import LearnedModel
from codecbench.plugins.torch import weights as weights_io

CHECKPOINT_FORMAT = "codecbench-torch-checkpoint/1"
CURVE_COLUMNS = ("step", "loss", "bpp", "distortion", "psnr", "aux_loss", "lr", "elapsed_s")


class TrainingError(ValueError):
    """A training run cannot start or continue as asked (message says why)."""


def load_training_images(folder: Path, patch_size: int, device: torch.device) -> list[torch.Tensor]:
    """Every image under ``folder`` as a ``3×H×W`` uint8 tensor on ``device``."""
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
        images.append(torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device))
    if not images:
        raise TrainingError(f"every image under {folder} is smaller than the "
                            f"{patch_size}px patch: {', '.join(too_small[:5])}")
    return images


def sample_batch(images, generator: torch.Generator, batch_size: int, patch: int) -> torch.Tensor:
    """``batch_size`` random crops (and flips) as a float batch in [0, 1]."""
    crops = []
    for _ in range(batch_size):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        top = int(torch.randint(image.shape[1] - patch + 1, (1,), generator=generator))
        left = int(torch.randint(image.shape[2] - patch + 1, (1,), generator=generator))
        crop = image[:, top:top + patch, left:left + patch]
        if bool(torch.randint(2, (1,), generator=generator)):
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops).float().div_(255.0)


def learning_rate(config: TrainingConfig, base: float, step: int) -> float:
    """``base · gamma^k`` with ``k`` the number of milestones (fractions of steps) passed."""
    passed = sum(step >= int(fraction * config.steps) for fraction in config.lr_milestones)
    return base * config.lr_gamma**passed


def _optimizers(model, config: TrainingConfig):
    main = [p for name, p in model.named_parameters() if not name.endswith(".quantiles")]
    aux = [p for name, p in model.named_parameters() if name.endswith(".quantiles")]
    return (torch.optim.Adam(main, lr=config.learning_rate),
            torch.optim.Adam(aux, lr=config.aux_learning_rate))


def _comparable(config_json: dict) -> dict:
    return {k: v for k, v in config_json.items() if k not in RESUME_INSENSITIVE}


def _load_initial_weights(model, path: Path) -> dict:
    """Fine-tuning: start from weights (``.safetensors``) or another run's checkpoint."""
    if path.suffix == ".safetensors":
        source, metadata = weights_io.load_model(path)
        state = source.state_dict()
        parent = {"weights": str(path), "lambda": metadata.get("lambda"),
                  "steps": metadata.get("steps")}
    else:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{path} is neither a weights file nor a training checkpoint")
        state = checkpoint["model"]
        parent = {"checkpoint": str(path), "lambda": checkpoint.get("lambda"),
                  "steps": checkpoint.get("step")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise TrainingError(f"cannot start from {path}: its architecture differs "
                            f"({str(exc).splitlines()[0]})") from None
    return parent


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _rewrite_curves(path: Path, up_to_step: int) -> None:
    """Drop the rows logged after the checkpoint a resumed run restarts from."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CURVE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _save_checkpoint(path: Path, state: dict) -> None:
    partial = path.with_name(path.name + ".part")
    torch.save(state, partial)
    os.replace(partial, path)


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) ``entry`` as configured; see the module docstring."""
    from compressai.losses import RateDistortionLoss

    if config.patch_size % entry.padding_multiple:
        raise TrainingError(f"--patch-size must be a multiple of {entry.padding_multiple} for "
                            f"{codec_name} (its latents are 1/{entry.padding_multiple} of the "
                            f"image size), got {config.patch_size}")
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: pick the fastest kernels
    lmbda = config.lmbda if config.lmbda is not None else entry.lambda_of(config.quality)
    N, M = config.channels or (entry.N, entry.M)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    curves_path = out / "curves.csv"

    torch.manual_seed(config.seed)
    model = weights_io.build_model(entry.compressai_class, N, M).to(device)
    optimizer, aux_optimizer = _optimizers(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    step, elapsed, parent = 0, 0.0, None

    if checkpoint_path.exists():
        checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if checkpoint.get("format") != CHECKPOINT_FORMAT or checkpoint["codec"] != codec_name:
            raise TrainingError(f"{checkpoint_path} is not a checkpoint of {codec_name}")
        old, new = _comparable(checkpoint["config"]), _comparable(config.to_json())
        changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        if changed:
            raise TrainingError(
                f"{out} holds a run with other settings ({', '.join(changed)}); resume it with "
                "the same options or train into another --out folder"
            )
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        aux_optimizer.load_state_dict(checkpoint["aux_optimizer"])
        generator.set_state(checkpoint["generator"].cpu())
        torch.set_rng_state(checkpoint["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in checkpoint:
            torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), device)
        step, elapsed, parent = checkpoint["step"], checkpoint["elapsed_s"], checkpoint["parent"]
        _rewrite_curves(curves_path, step)
    elif config.init_from is not None:
        parent = _load_initial_weights(model, Path(config.init_from))
        model.to(device)

    images = load_training_images(Path(config.data), config.patch_size, device)
    criterion = RateDistortionLoss(lmbda=lmbda, metric=config.metric)
    distortion_key = "mse_loss" if config.metric == "mse" else "ms_ssim_loss"

    def checkpoint_state() -> dict:
        state = {
            "format": CHECKPOINT_FORMAT, "codec": codec_name, "config": config.to_json(),
            "step": step, "lambda": lmbda, "N": N, "M": M, "elapsed_s": elapsed,
            "parent": parent, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "aux_optimizer": aux_optimizer.state_dict(),
            "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        }
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        return state

    new_file = not curves_path.exists()
    curves = curves_path.open("a", newline="")
    writer = csv.DictWriter(curves, CURVE_COLUMNS)
    if new_file:
        writer.writeheader()
    sums = dict.fromkeys(("loss", "bpp", "distortion", "aux_loss"), 0.0)
    count = 0
    started = time.monotonic() - elapsed
    session_start = time.monotonic()
    last = {}
    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not config.progress,
               desc=f"train {codec_name} λ={lmbda:g}", unit="step")
    try:
        while step < config.steps:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, config.learning_rate, step)
            batch = sample_batch(images, generator, config.batch_size, config.patch_size)
            output = model(batch)
            losses = criterion(output, batch)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            if config.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"],
                                               config.clip_norm)
            optimizer.step()
            aux_loss = model.aux_loss()
            aux_optimizer.zero_grad(set_to_none=True)
            aux_loss.backward()
            aux_optimizer.step()
            step += 1
            count += 1
            sums["loss"] += losses["loss"].item()
            sums["bpp"] += losses["bpp_loss"].item()
            sums["distortion"] += losses[distortion_key].item()
            sums["aux_loss"] += aux_loss.item()
            bar.update(1)
            elapsed = time.monotonic() - started
            if step % config.log_every == 0 or step == config.steps:
                last = {key: value / count for key, value in sums.items()}
                psnr = (10 * math.log10(1.0 / last["distortion"])
                        if config.metric == "mse" and last["distortion"] > 0 else "")
                writer.writerow({"step": step, **last, "psnr": psnr,
                                 "lr": optimizer.param_groups[0]["lr"],
                                 "elapsed_s": round(elapsed, 3)})
                curves.flush()
                bar.set_postfix(loss=f"{last['loss']:.4f}", bpp=f"{last['bpp']:.3f}")
                sums = dict.fromkeys(sums, 0.0)
                count = 0
            out_of_time = (config.time_limit_s is not None
                           and time.monotonic() - session_start >= config.time_limit_s)
            if step % config.checkpoint_every == 0 or step == config.steps or out_of_time:
                _save_checkpoint(checkpoint_path, checkpoint_state())
            if out_of_time:
                break
    finally:
        bar.close()
        curves.close()

    finished = step >= config.steps
    weights_path = None
    if finished:
        weights_path = _export(model, entry, codec_name, config, out, lmbda, N, M, step,
                               elapsed, parent, last, device, len(images))
    return TrainingResult(out=out, step=step, finished=finished, weights=weights_path,
                          final=last)


def _export(model, entry, codec_name, config, out, lmbda, N, M, step, elapsed, parent, last,
            device, n_images) -> Path:
    """Write the weights file (CDFs included) and ``training.json``."""
    import compressai

    cpu_model = weights_io.build_model(entry.compressai_class, N, M)
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    cpu_model.eval()
    if config.quality:
        path = out / weights_io.weights_filename(entry.slug, config.quality)
    else:
        path = out / f"{entry.slug}-lambda{lmbda:g}.safetensors"
    metadata = {
        "model": entry.slug, "class": entry.compressai_class, "N": str(N), "M": str(M),
        "quality": str(config.quality or 0), "lambda": repr(lmbda), "metric": config.metric,
        "steps": str(step), "codec": codec_name,
    }
    weights_io.save_model(cpu_model, path, metadata, half_kernels=config.half_kernels)
    record = {
        "codec": codec_name, "model": entry.slug, "paper": entry.paper,
        "lambda": lmbda, "metric": config.metric, "N": N, "M": M, "steps": step,
        "train_seconds": round(elapsed, 1), "hardware": _hardware(device),
        "data": {"folder": str(config.data), "images": n_images},
        "final_interval": last, "parent": parent, "config": config.to_json(),
        "versions": {"torch": torch.__version__, "compressai": compressai.__version__},
        "weights_id": weights_io.weights_id(path).hex(),
        "finished_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    return path
