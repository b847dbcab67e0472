"""The PyTorch scaffold of ``codecbench train``: what every torch family's trainer shares.

A family subclasses :class:`TorchTraining` and supplies only its networks and optimisers
(:meth:`~TorchTraining.build`, called after ``torch.manual_seed(seed)`` so that the
initial weights follow from the seed), its step on a batch
(:meth:`~TorchTraining.train_step`) and its export
(:meth:`~codecbench.codecs.learned.training_loop.Training.export`), plus, where it has
them, its option checks, the checkpoint's format and extra entries, extra ``curves.csv``
columns and what ``--init-from`` accepts (:class:`InitialWeights`). The scaffold does the
rest, on top of the framework-neutral :class:`~codecbench.codecs.learned.training_loop.Training`:

* the training images, decoded once and moved to the training device (``3×H×W`` uint8);
  each step's batch of random crops (and horizontal flips), drawn by the crop sampler, a
  ``torch.Generator`` seeded with ``seed``;
* the schedule's learning rate on every scheduled optimiser before each step (the
  entropy bottleneck's auxiliary optimiser keeps ``--aux-lr``);
* ``checkpoint.pt``, written atomically: every module's and optimiser's ``state_dict``,
  the step, the time, the lineage, and the states of the crop sampler, of torch's RNG and
  (on CUDA) of the device's RNG, so that a resumed run draws exactly what an
  uninterrupted one would. It is read back as data only
  (:func:`~codecbench.frameworks.torch_runtime.torch_load`) and only with the run's
  settings;
* ``--init-from``: weights or another run's checkpoint loaded into the ``model``;
* the hardware and library versions of ``training.json``.
"""

from __future__ import annotations

import importlib
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from codecbench.api.atomic import atomic_path
from codecbench.api.training import TrainingConfig
from codecbench.codecs.learned import training_loop
from codecbench.codecs.learned.training_loop import LoopState, Training, TrainingError
from codecbench.frameworks.files import WeightsFileError
from codecbench.frameworks.torch_runtime import torch_load


def load_training_images(folder: Path, patch_size: int, device: torch.device,
                         split: str = "all") -> list[torch.Tensor]:
    """Every image under ``folder`` in ``split`` as a ``3×H×W`` uint8 tensor on ``device``."""
    return [torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device)
            for array in training_loop.load_training_images(folder, patch_size, split)]


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


def counting_crops(images, seed: int, count: int, largest: int,
                   multiple: int) -> Iterator[torch.Tensor]:
    """``count`` single-crop batches on which an exported coding table is counted: side
    ``largest`` (or the smallest image's) rounded down to a ``multiple``, drawn by a
    sampler of their own seeded ``seed + 1`` (the same crops for the same run)."""
    generator = torch.Generator().manual_seed(seed + 1)
    size = min(largest, *(min(image.shape[1:]) for image in images))
    size -= size % multiple
    return (sample_batch(images, generator, 1, size) for _ in range(count))


def main_and_aux_optimizers(model: nn.Module, config: TrainingConfig,
                            extra_parameters: Iterable[nn.Parameter] = ()):
    """CompressAI's two Adams: one on the network (and ``extra_parameters``) at ``--lr``,
    one on the entropy bottleneck's quantiles, fitted by the auxiliary loss, at ``--aux-lr``."""
    main = [p for name, p in model.named_parameters() if not name.endswith(".quantiles")]
    aux = [p for name, p in model.named_parameters() if name.endswith(".quantiles")]
    return (torch.optim.Adam([*main, *extra_parameters], lr=config.learning_rate),
            torch.optim.Adam(aux, lr=config.aux_learning_rate))


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, clip_norm: float = 0.0) -> None:
    """One step of ``optimizer`` on the gradient of ``loss``, the gradient norm of its
    parameters clipped to ``clip_norm`` first (0: not clipped)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(
            [p for group in optimizer.param_groups for p in group["params"]], clip_norm)
    optimizer.step()


def loaded_on_cpu(fresh: nn.Module, state_dict: dict) -> nn.Module:
    """``fresh`` (a network built on the CPU) holding ``state_dict``'s tensors, in eval
    mode: the trained network as it is exported."""
    fresh.load_state_dict({key: value.cpu() for key, value in state_dict.items()})
    return fresh.eval()


def hardware(device: torch.device) -> str:
    """The training device in words (``training.json``)."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return training_loop.cpu_description()


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """A ``checkpoint.pt`` read as data only (:func:`torch_load`); a corrupt or refused
    file, or one that is not a dictionary, raises :class:`TrainingError`."""
    try:
        checkpoint = torch_load(path, map_location=map_location)
    except WeightsFileError as exc:
        raise TrainingError(str(exc)) from None
    if not isinstance(checkpoint, dict):
        raise TrainingError(f"{path} is not a training checkpoint (it holds a "
                            f"{type(checkpoint).__name__})")
    return checkpoint


@dataclass(frozen=True)
class InitialWeights:
    """What ``--init-from`` accepts for a family: its weights files and its checkpoints.

    Attributes:
        read: a ``.safetensors`` file's ``(state_dict, metadata)``; raises ``ValueError``
            naming the file when it cannot.
        checkpoint_format: the format of the checkpoints whose ``model`` it starts from.
        lineage: metadata keys of a weights file that ``training.json``'s ``parent`` keeps.
        checkpoint_lineage: checkpoint entries that ``parent`` keeps.
        accepted: what the file must be, for the error message ("a weights file nor a
            training checkpoint").
    """

    read: Callable[[Path], tuple[dict, dict]]
    checkpoint_format: str
    lineage: tuple[str, ...]
    checkpoint_lineage: tuple[str, ...]
    accepted: str

    def load_into(self, model: nn.Module, path: Path, device: torch.device) -> dict:
        """Load ``path`` into ``model`` (moved back to ``device``); returns the lineage."""
        if path.suffix == ".safetensors":
            try:
                state, metadata = self.read(path)
            except ValueError as exc:  # the message names the file
                raise TrainingError(str(exc)) from None
            parent = {"weights": str(path), **{key: metadata.get(key) for key in self.lineage},
                      "steps": metadata.get("steps")}
        else:
            checkpoint = load_checkpoint(path)
            if checkpoint.get("format") != self.checkpoint_format or "model" not in checkpoint:
                raise TrainingError(f"{path} is neither {self.accepted}")
            state = checkpoint["model"]
            parent = {"checkpoint": str(path),
                      **{key: checkpoint.get(key) for key in self.checkpoint_lineage},
                      "steps": checkpoint.get("step")}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise TrainingError(f"cannot start from {path}: its architecture differs "
                                f"({str(exc).splitlines()[0]})") from None
        model.to(device)
        return parent


@dataclass
class Trainables:
    """What a family trains, by the names its checkpoint stores them under.

    Attributes:
        modules: the networks (the one ``--init-from`` loads is ``model``), trained in
            train mode.
        optimizers: the optimisers that follow the learning-rate schedule.
        fixed_rate: optimisers at a constant step size of their own (``--aux-lr``).
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    fixed_rate: dict[str, torch.optim.Optimizer] = field(default_factory=dict)


class TorchTraining(Training):
    """One torch training run; a family supplies :meth:`build`, :meth:`train_step` and
    :meth:`export` (see the module docstring)."""

    checkpoint_format: ClassVar[str]
    """The ``format`` of the family's checkpoints (a run resumes only its own)."""
    initial_weights: ClassVar[InitialWeights | None] = None
    """What ``--init-from`` accepts; ``None``: the family trains from scratch only."""
    libraries: ClassVar[tuple[str, ...]] = ("torch",)
    """The modules whose ``__version__`` ``training.json`` records."""

    def __init__(self, entry, codec_name: str, config: TrainingConfig):
        super().__init__(entry, codec_name, config)
        self.device = torch.device(config.device)
        self.checkpoint_path = self.out / "checkpoint.pt"
        self.generator = torch.Generator()  # the crop sampler, seeded by start()
        self.stateful: dict = {}
        self.scheduled: list[torch.optim.Optimizer] = []

    # -- supplied by the family

    @abstractmethod
    def build(self) -> Trainables:
        """The networks (on ``self.device``) and their optimisers."""

    @abstractmethod
    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        """One optimisation step on ``batch`` (B×3×P×P in [0, 1]); the curve values
        (:func:`~codecbench.codecs.learned.training_loop.run_steps`)."""

    def checkpoint_entries(self) -> dict:
        """Plain values the checkpoint records besides the states (the rate point, widths)."""
        return {}

    # -- the scaffold

    def start(self) -> None:
        torch.manual_seed(self.config.seed)
        trainables = self.build()
        self.stateful = {**trainables.modules, **trainables.optimizers, **trainables.fixed_rate}
        self.scheduled = list(trainables.optimizers.values())
        self.generator = torch.Generator().manual_seed(self.config.seed)
        if self.checkpoint_path.exists():
            self.resume()
        elif self.config.init_from is not None:
            if self.initial_weights is None:
                raise TrainingError(f"{self.codec_name} trains from scratch (no --init-from)")
            self.parent = self.initial_weights.load_into(
                trainables.modules["model"], Path(self.config.init_from), self.device)
        for module in trainables.modules.values():
            module.train()

    def load_images(self) -> list[torch.Tensor]:
        return load_training_images(Path(self.config.data), self.config.patch_size, self.device,
                                    self.config.split)

    def advance(self, step: int, lr: float) -> dict:
        for optimizer in self.scheduled:
            for group in optimizer.param_groups:
                group["lr"] = lr
        batch = sample_batch(self.images, self.generator, self.config.batch_size,
                             self.config.patch_size)
        return self.train_step(step, batch)

    def save_checkpoint(self) -> None:
        checkpoint = {
            "format": self.checkpoint_format, "codec": self.codec_name,
            "config": self.config.to_json(), "step": self.state.step,
            "elapsed_s": self.state.elapsed, "parent": self.parent,
            **self.checkpoint_entries(),
            **{name: thing.state_dict() for name, thing in self.stateful.items()},
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            checkpoint["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        with atomic_path(self.checkpoint_path) as partial:
            torch.save(checkpoint, partial)

    def resume(self) -> None:
        """Continue from the run folder's checkpoint (same settings only): the states, the
        RNGs, the step and the lineage; the ``curves.csv`` rows logged after it are dropped."""
        path = self.checkpoint_path
        checkpoint = load_checkpoint(path, map_location=self.device)
        if (checkpoint.get("format") != self.checkpoint_format
                or checkpoint.get("codec") != self.codec_name):
            raise TrainingError(f"{path} is not a checkpoint of {self.codec_name}")
        training_loop.check_resumable(checkpoint["config"], self.config, self.out)
        for name, thing in self.stateful.items():
            thing.load_state_dict(checkpoint[name])
        self.generator.set_state(checkpoint["generator"].cpu())
        torch.set_rng_state(checkpoint["torch_rng"].cpu())
        if self.device.type == "cuda" and "cuda_rng" in checkpoint:
            torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), self.device)
        training_loop.rewrite_curves(self.out / "curves.csv", checkpoint["step"])
        self.state = LoopState(checkpoint["step"], checkpoint["elapsed_s"])
        self.parent = checkpoint["parent"]

    def hardware(self) -> str:
        return hardware(self.device)

    def versions(self) -> dict[str, str]:
        return {name: importlib.import_module(name).__version__ for name in self.libraries}
