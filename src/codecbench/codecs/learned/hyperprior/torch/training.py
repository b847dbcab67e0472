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

from pathlib import Path

import torch

from codecbench.api.atomic import atomic_path
from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop, weights_format, weights_locator
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.training_loop import LoopState, TrainingError
from codecbench.frameworks.files import WeightsFileError
from codecbench.frameworks.torch_runtime import torch_load

CHECKPOINT_FORMAT = "codecbench-torch-checkpoint/1"


def load_training_images(folder: Path, patch_size: int, device: torch.device) -> list[torch.Tensor]:
    """Every image under ``folder`` as a ``3×H×W`` uint8 tensor on ``device``."""
    return [torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device)
            for array in training_loop.load_training_images(folder, patch_size)]


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


def _optimizers(model, config: TrainingConfig):
    main = [p for name, p in model.named_parameters() if not name.endswith(".quantiles")]
    aux = [p for name, p in model.named_parameters() if name.endswith(".quantiles")]
    return (torch.optim.Adam(main, lr=config.learning_rate),
            torch.optim.Adam(aux, lr=config.aux_learning_rate))


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """A ``checkpoint.pt`` read as data only (:func:`weights.torch_load`); a corrupt or
    refused file, or one that is not a dictionary, raises :class:`TrainingError`."""
    try:
        checkpoint = torch_load(path, map_location=map_location)
    except WeightsFileError as exc:
        raise TrainingError(str(exc)) from None
    if not isinstance(checkpoint, dict):
        raise TrainingError(f"{path} is not a training checkpoint (it holds a "
                            f"{type(checkpoint).__name__})")
    return checkpoint


def _load_initial_weights(model, path: Path, device) -> dict:
    """Fine-tuning: start from weights (``.safetensors``) or another run's checkpoint
    (the model is moved back to ``device`` afterwards)."""
    if path.suffix == ".safetensors":
        try:
            source, metadata = weights_io.load_model(path)
        except ValueError as exc:  # the message names the file
            raise TrainingError(str(exc)) from None
        state = source.state_dict()
        parent = {"weights": str(path), "lambda": metadata.get("lambda"),
                  "steps": metadata.get("steps")}
    else:
        checkpoint = load_checkpoint(path)
        if checkpoint.get("format") != CHECKPOINT_FORMAT or "model" not in checkpoint:
            raise TrainingError(f"{path} is neither a weights file nor a training checkpoint")
        state = checkpoint["model"]
        parent = {"checkpoint": str(path), "lambda": checkpoint.get("lambda"),
                  "steps": checkpoint.get("step")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise TrainingError(f"cannot start from {path}: its architecture differs "
                            f"({str(exc).splitlines()[0]})") from None
    model.to(device)
    return parent


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return training_loop.cpu_description()


def save(path: Path, checkpoint_format: str, codec_name: str, config: TrainingConfig, device,
         stateful: dict, generator: torch.Generator, state: LoopState, parent,
         extra: dict | None = None) -> None:
    """Write ``checkpoint.pt`` atomically: every ``stateful`` object's ``state_dict``, the
    crop sampler's and torch's RNG states, the step, the time and the lineage."""
    checkpoint = {
        "format": checkpoint_format, "codec": codec_name, "config": config.to_json(),
        "step": state.step, "elapsed_s": state.elapsed, "parent": parent, **(extra or {}),
        **{name: thing.state_dict() for name, thing in stateful.items()},
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
    }
    if device.type == "cuda":
        checkpoint["cuda_rng"] = torch.cuda.get_rng_state(device)
    with atomic_path(path) as partial:
        torch.save(checkpoint, partial)


def resume(path: Path, checkpoint_format: str, codec_name: str, config: TrainingConfig,
           device, stateful: dict, generator: torch.Generator) -> dict:
    """Load what :func:`save` wrote into ``stateful`` and the RNGs (same settings only);
    drop the ``curves.csv`` rows logged after it. Returns the checkpoint."""
    checkpoint = load_checkpoint(path, map_location=device)
    if checkpoint.get("format") != checkpoint_format or checkpoint.get("codec") != codec_name:
        raise TrainingError(f"{path} is not a checkpoint of {codec_name}")
    training_loop.check_resumable(checkpoint["config"], config, Path(config.out))
    for name, thing in stateful.items():
        thing.load_state_dict(checkpoint[name])
    generator.set_state(checkpoint["generator"].cpu())
    torch.set_rng_state(checkpoint["torch_rng"].cpu())
    if device.type == "cuda" and "cuda_rng" in checkpoint:
        torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), device)
    training_loop.rewrite_curves(Path(config.out) / "curves.csv", checkpoint["step"])
    return checkpoint


def start_or_resume(path: Path, checkpoint_format: str, codec_name: str, config: TrainingConfig,
                    device, stateful: dict, generator: torch.Generator,
                    initialise=None) -> tuple[LoopState, dict | None]:
    """``(loop state, lineage)`` of a run: continued from ``path`` when it exists, else
    new — fine-tuned from ``--init-from`` by ``initialise(path) -> lineage`` when the
    trainer can, refused when it cannot (``initialise`` is ``None``)."""
    if path.exists():
        checkpoint = resume(path, checkpoint_format, codec_name, config, device, stateful,
                            generator)
        return LoopState(checkpoint["step"], checkpoint["elapsed_s"]), checkpoint["parent"]
    if config.init_from is None:
        return LoopState(), None
    if initialise is None:
        raise TrainingError(f"{codec_name} trains from scratch (no --init-from)")
    return LoopState(), initialise(Path(config.init_from))


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) ``entry`` as configured; see the module docstring."""
    from compressai.losses import RateDistortionLoss

    training_loop.refuse_gan_options(config, codec_name)
    training_loop.check_patch_size(config, entry.padding_multiple, codec_name)
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: pick the fastest kernels
    lmbda = training_loop.lambda_of_run(entry, config)
    N, M = config.channels or (entry.N, entry.M)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"

    torch.manual_seed(config.seed)
    model = weights_io.build_model(entry.compressai_class, N, M).to(device)
    optimizer, aux_optimizer = _optimizers(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    stateful = {"model": model, "optimizer": optimizer, "aux_optimizer": aux_optimizer}
    state, parent = start_or_resume(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config,
                                    device, stateful, generator,
                                    lambda path: _load_initial_weights(model, path, device))

    images = load_training_images(Path(config.data), config.patch_size, device)
    criterion = RateDistortionLoss(lmbda=lmbda, metric=config.metric)
    distortion_key = "mse_loss" if config.metric == "mse" else "ms_ssim_loss"

    def save_checkpoint() -> None:
        save(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device, stateful,
             generator, state, parent, {"lambda": lmbda, "N": N, "M": M})

    def train_step(step: int, lr: float) -> dict:
        for group in optimizer.param_groups:
            group["lr"] = lr
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
        return {"loss": losses["loss"].item(), "bpp": losses["bpp_loss"].item(),
                "distortion": losses[distortion_key].item(), "aux_loss": aux_loss.item()}

    model.train()
    return training_loop.run_to_completion(
        config, f"train {codec_name} λ={lmbda:g}", state, train_step, save_checkpoint,
        lambda: _export(model, entry, codec_name, config, out, lmbda, N, M, state, parent,
                        device, len(images)))


def _export(model, entry, codec_name, config, out, lmbda, N, M, state, parent, device,
            n_images) -> Path:
    """Write the weights file (CDFs included) and ``training.json``."""
    import compressai

    cpu_model = weights_io.build_model(entry.compressai_class, N, M)
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    cpu_model.eval()
    if config.quality:
        path = out / weights_locator.weights_filename("torch", entry.slug, config.quality)
    else:
        path = out / f"{entry.slug}-lambda{lmbda:g}.safetensors"
    metadata = training_loop.weights_metadata(entry, codec_name, config, lmbda, N, M, state.step)
    weights_io.save_model(cpu_model, path, metadata, half_kernels=config.half_kernels)
    record = training_loop.training_record(
        entry, codec_name, config, lmbda, N, M, state, _hardware(device), n_images, parent,
        {"torch": torch.__version__, "compressai": compressai.__version__},
        weights_format.weights_id(path).hex())
    training_loop.write_training_record(out, record)
    return path
