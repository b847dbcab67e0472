"""The training contract: what ``codecbench train`` asks of a trainable codec.

A codec is trainable when it has a ``train(config: TrainingConfig) -> TrainingResult``
method (the torch learned codecs do; the framework is the codec's business). The
options are framework-neutral so that every learned codec trains with the same
command line.

The objective is the rate–distortion Lagrangian (Ballé et al. 2017)::

    L = λ · 255² · MSE(x, x̂) + R          (metric "mse")
    L = λ · (1 − MS-SSIM(x, x̂)) + R       (metric "ms-ssim")
    R = Σ −log2 p(ŷ) / (B · H · W)        bits per pixel of the batch

with λ from the model table (``--quality``) or given (``--lambda``).

``loss="perceptual"`` (``--loss perceptual``) adds a perception metric to the distortion,
after Liu et al. 2022 ("a rate–distortion loss based on a perception metric in learned
image compression", Signal, Image and Video Processing), wherever the family's
distortion enters its loss and with the same multiplier::

    L = λ · (255² · MSE(x, x̂) + k_P · LPIPS_VGG(x, x̂)) + R

LPIPS on VGG-16 features (Zhang et al. 2018) stands for the paper's perception metric, and
``k_P`` (``perceptual_weight``) is ours: 100 makes the term about a third of 255²·MSE at
30 dB; the paper's exact metric and weights are not reproduced here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

METRICS = ("mse", "ms-ssim")
LOSSES = ("rate-distortion", "perceptual")
PERCEPTUAL_WEIGHT = 100.0
"""Default ``k_P`` of ``--loss perceptual`` (relative to the 255²·MSE term)."""


@dataclass
class TrainingConfig:
    """Options of one training run (all of ``codecbench train``'s flags).

    Attributes:
        data: folder of training images (searched recursively).
        split: the part of ``data`` trained on: ``all``, or ``train`` (leaving out the
            fixed held-out photos of :mod:`codecbench.datasets.split` for evaluation).
        out: run folder: checkpoint, ``curves.csv``, ``training.json``, exported weights.
        quality: rate point of the model table whose λ to use (λ-trained models need
            this or ``lmbda``; recurrent models, whose rate points are iteration counts of
            one network, refuse both).
        lmbda: λ given explicitly (overrides the table's).
        variable_rate: train one network for every rate point of the model table's λ
            ladder (gain units, Cui et al. 2021) instead of one per ``quality``.
        metric: distortion term, ``mse`` or ``ms-ssim``.
        loss: ``rate-distortion``, or ``perceptual``: the distortion plus
            ``perceptual_weight`` · LPIPS-VGG (module docstring; CNN models in PyTorch).
        perceptual_weight: ``k_P`` of the perceptual loss.
        steps: total optimisation steps (a resumed run continues up to this number).
        batch_size, patch_size: random crops per step and their side in pixels.
        learning_rate: Adam step size of the transforms and entropy models.
        aux_learning_rate: Adam step size of the entropy bottleneck's quantiles (aux loss).
        lr_milestones: fractions of ``steps`` after which the learning rate is
            multiplied by ``lr_gamma``.
        clip_norm: gradient-norm clipping of the main parameters (0 disables).
        device: ``cpu``, ``cuda``, ``cuda:1``, ...
        seed: seeds the initial weights and the crop sampler.
        checkpoint_every: steps between checkpoints (also written at the end and when
            the time limit is reached).
        log_every: steps between rows of ``curves.csv``.
        init_from: weights or checkpoint to start from (fine-tuning another rate point).
        channels: ``(N, M)`` overriding the table's channel counts (tiny test models).
        time_limit_s: stop cleanly (checkpoint written, resumable) after this many seconds.
        half_kernels: store convolution kernels as float16 in the exported weights.
        warmup: GAN models: fraction of the steps trained without the adversarial term
            and discriminator (``None``: the model table's); refused by other models.
        progress: show a progress bar.
    """

    data: Path
    out: Path
    split: str = "all"
    quality: int | None = None
    lmbda: float | None = None
    variable_rate: bool = False
    metric: str = "mse"
    loss: str = "rate-distortion"
    perceptual_weight: float = PERCEPTUAL_WEIGHT
    steps: int = 10000
    batch_size: int = 8
    patch_size: int = 256
    learning_rate: float = 1e-4
    aux_learning_rate: float = 1e-3
    lr_milestones: tuple[float, ...] = (0.8, 0.95)
    lr_gamma: float = 0.3
    clip_norm: float = 1.0
    device: str = "cpu"
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 50
    init_from: Path | None = None
    channels: tuple[int, int] | None = None
    time_limit_s: float | None = None
    half_kernels: bool = False
    warmup: float | None = None
    progress: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not self.perceptual_weight > 0:
            raise ValueError(f"perceptual_weight must be positive, got {self.perceptual_weight}")
        for name in ("steps", "batch_size", "patch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    def to_json(self) -> dict:
        """JSON-ready form (paths as strings), as stored in checkpoints and ``training.json``."""
        record = asdict(self)
        for key, value in record.items():
            if isinstance(value, Path):
                record[key] = str(value)
            elif isinstance(value, tuple):
                record[key] = list(value)
        return record


RESUME_INSENSITIVE = ("steps", "progress", "time_limit_s", "checkpoint_every", "log_every",
                      "out", "device")
"""Options that may change when a run is resumed (extend it, move it, run it elsewhere);
any other difference from the checkpoint's configuration is refused."""


@dataclass
class TrainingResult:
    """What a finished (or time-limited) run produced."""

    out: Path
    step: int
    finished: bool
    weights: Path | None
    final: dict = field(default_factory=dict)
