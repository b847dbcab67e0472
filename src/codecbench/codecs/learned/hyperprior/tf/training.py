"""``codecbench train tf/<model>``: rate–distortion training on tensorflow-compression.

The same objective and options as ``torch/<model>`` (:mod:`codecbench.api.training`),
in tfc's idiom (Ballé et al. 2017, 2018; tfc's ``models/bmshj2018.py``):

* ``ContinuousBatchedEntropyModel`` (factorized density) and
  ``LocationScaleIndexedEntropyModel`` (Gaussian on the log-uniform scale table, indexed
  by the continuous index of the predicted scale) with ``training=True``: additive uniform
  noise replaces rounding, and the rate is ``Σ −log2 p(ỹ)``;
* the autoregressive prior (Minnen 2018) as CompressAI's
  ``JointAutoregressiveHierarchicalPriors.forward`` trains it: ``ỹ = y + u``,
  ``u ~ U(−½, ½)``, feeds the masked context convolution (all positions at once: the mask
  makes it causal) and ``g_s``; the rate of ``y`` under ``(σ, μ) = e([h_s(z̃), φ(ỹ)])`` is
  taken on a second noise draw, as CompressAI's Gaussian conditional draws its own;
* ``L = λ·255²·MSE + bpp`` or ``λ·(1 − MS-SSIM) + bpp`` (``tf.image.ssim_multiscale``);
* one Adam on every variable, the shared step schedule, global-norm clipping. tfc needs no
  auxiliary loss (CompressAI's quantile fitting): the tails and the median offset are
  computed from the density when the tables are built, so ``--aux-lr`` is recorded but
  unused and ``aux_loss`` stays empty in ``curves.csv``.

:class:`TFTraining` is the TensorFlow side of the scaffold
(:class:`codecbench.codecs.learned.training_loop.Training`: schedule, resume rule, curves,
time limit, ``training.json``). Exact resume: the crops of step ``s`` come from
``numpy.random.default_rng([seed, s])`` and the noise from
``tf.random.set_seed(seed · 1000003 + s)``, so a resumed run draws what an uninterrupted
one would; ``checkpoint.npz`` (written atomically) holds the model and optimiser
variables, the step and the settings. At the end the median offsets and range-coding
tables are computed and ``<model>-q<Q>.tf.safetensors`` (a ``CODECBENCH_TF_WEIGHTS``
folder as is) is written.
"""

from __future__ import annotations

import json
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from codecbench.api.atomic import atomic_output
from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop, training_options, weights_locator
from codecbench.codecs.learned.hyperprior.tf import convert
from codecbench.codecs.learned.hyperprior.tf.network import CNNModel, named_variables
from codecbench.codecs.learned.hyperprior.tf.pipeline import (
    EntropyCoders,
    median_offsets,
    tf_device,
)
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.training_loop import LoopState, Training, TrainingError

CHECKPOINT_FORMAT = "codecbench-tf-checkpoint/1"
NOISE_SEED_STRIDE = 1_000_003


def sample_batch(images: list[np.ndarray], rng: np.random.Generator, batch_size: int,
                 patch: int) -> np.ndarray:
    """``batch_size`` random crops (and horizontal flips), ``B×patch×patch×3`` in [0, 1]."""
    crops = []
    for _ in range(batch_size):
        image = images[int(rng.integers(len(images)))]
        top = int(rng.integers(image.shape[0] - patch + 1))
        left = int(rng.integers(image.shape[1] - patch + 1))
        crop = image[top:top + patch, left:left + patch]
        if rng.integers(2):
            crop = crop[:, ::-1]
        crops.append(crop)
    return np.stack(crops).astype(np.float32) / np.float32(255.0)


class RateDistortion:
    """The training-mode forward pass and loss of a :class:`CNNModel`."""

    def __init__(self, model: CNNModel, lmbda: float, metric: str):
        self.model, self.lmbda, self.metric = model, lmbda, metric
        self.factorized = tfc.ContinuousBatchedEntropyModel(model.density, coding_rank=3,
                                                            compression=False)
        self.conditional: tfc.LocationScaleIndexedEntropyModel | None = None
        if model.prior != "factorized":
            self.conditional = tfc.LocationScaleIndexedEntropyModel(
                tfc.NoisyNormal, num_scales=int(model.scale_table.shape[0]),
                scale_fn=model.scale_fn(), coding_rank=3, compression=False)

    def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        model = self.model
        y = model.g_a(x)
        if model.prior == "factorized":
            y_tilde, bits = self.factorized(y, training=True)
        else:
            z = model.h_a(model.hyper_analysis_input(y))
            z_tilde, z_bits = self.factorized(z, training=True)
            assert self.conditional is not None  # built for every prior but factorized
            if model.prior == "autoregressive":
                y_tilde = y + tf.random.uniform(tf.shape(y), -0.5, 0.5)
                scales, means = model.context_parameters(model.h_s(z_tilde), y_tilde)
                _, y_bits = self.conditional(y, model.scale_index(scales), loc=means,
                                             training=True)
            else:
                scales, means = model.gaussian_parameters(z_tilde)
                y_tilde, y_bits = self.conditional(y, model.scale_index(scales), loc=means,
                                                   training=True)
            bits = z_bits + y_bits
        x_hat = model.g_s(y_tilde)
        pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        bpp = tf.reduce_sum(bits) / pixels
        if self.metric == "mse":
            distortion = tf.reduce_mean(tf.square(x - x_hat))
            loss = self.lmbda * 255.0**2 * distortion + bpp
        else:  # CompressAI logs the MS-SSIM itself as the distortion term
            distortion = tf.reduce_mean(tf.image.ssim_multiscale(x, x_hat, 1.0))
            loss = self.lmbda * (1.0 - distortion) + bpp
        return {"loss": loss, "bpp": bpp, "distortion": distortion}


def _assign(model: CNNModel, tensors: dict[str, np.ndarray], source: Path) -> None:
    for key, variable in named_variables(model).items():
        if key not in tensors or tuple(tensors[key].shape) != tuple(variable.shape):
            raise TrainingError(f"cannot start from {source}: its architecture differs "
                                f"({key} missing or of another shape)")
        variable.assign(tensors[key].astype(variable.dtype.as_numpy_dtype))


def read_checkpoint(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a ``checkpoint.npz`` (no pickled objects are ever loaded); a
    corrupt or foreign file raises :class:`TrainingError`."""
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {key: data[key] for key in data.files if key != "meta"}
    except FileNotFoundError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise TrainingError(f"{path} was refused: it holds pickled Python objects, and "
                                "codecbench never loads a file whose loading could run "
                                "code") from None
        raise TrainingError(f"{path} is not a readable TF training checkpoint "
                            f"({type(exc).__name__})") from None
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise TrainingError(f"{path} is not a readable TF training checkpoint (corrupt, "
                            f"truncated, or not written by codecbench train; "
                            f"{type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise TrainingError(f"{path} is not a TF training checkpoint")
    return meta, arrays


def _model_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}


def _load_initial_weights(model: CNNModel, path: Path) -> dict:
    """Fine-tuning: start from TF or torch weights, or another TF run's checkpoint."""
    if path.suffix == ".npz":
        meta, arrays = read_checkpoint(path)
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{path} is neither a weights file nor a TF checkpoint")
        _assign(model, _model_arrays(arrays), path)
        return {"checkpoint": str(path), "lambda": meta.get("lambda"), "steps": meta.get("step")}
    if path.suffix != ".safetensors":
        raise TrainingError(f"{path} is neither a weights file nor a TF checkpoint")
    try:
        if path.name.endswith(".tf.safetensors"):
            source, _, metadata = convert.load_tf_weights(path)
        else:
            source, metadata = convert.model_from_torch_weights(path)
    except ValueError as exc:  # the message names the file
        raise TrainingError(str(exc)) from None
    except KeyError as exc:
        raise TrainingError(f"cannot start from {path}: its metadata has no {exc}") from None
    if source.rate_points:
        raise TrainingError(f"cannot start from {path}: a variable-rate network (gain units), "
                            "and a TF run trains one rate point")
    _assign(model, {k: v.numpy() for k, v in named_variables(source).items()}, path)
    return {"weights": str(path), "lambda": metadata.get("lambda"), "steps": metadata.get("steps")}


def _save_checkpoint(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    with atomic_output(path, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)


class TFTraining(Training):
    """The rate–distortion objective of the module docstring, in TensorFlow."""

    entry: LearnedModel

    def __init__(self, entry: LearnedModel, codec_name: str, config: TrainingConfig):
        super().__init__(entry, codec_name, config)
        self.device = tf_device(config.device)
        self.checkpoint_path = self.out / "checkpoint.npz"

    def prepare(self) -> None:
        training_options.refuse_gan_options(self.config, self.codec_name)
        training_options.check_patch_size(self.config, self.entry.padding_multiple,
                                          self.codec_name)
        self.lmbda = training_options.lambda_of_run(self.entry, self.config)
        self.N, self.M = self.config.channels or (self.entry.N, self.entry.M)

    def description(self) -> str:
        return f"train {self.codec_name} λ={self.lmbda:g}"

    def start(self) -> None:
        config = self.config
        tf.keras.utils.set_random_seed(config.seed)
        with tf.device(self.device):
            self.model = CNNModel(self.entry.prior, self.N, self.M)
            self.optimizer = tf.keras.optimizers.Adam(learning_rate=config.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
        if self.checkpoint_path.exists():
            self.resume()
        elif config.init_from is not None:
            self.parent = _load_initial_weights(self.model, Path(config.init_from))
        self.objective = RateDistortion(self.model, self.lmbda, config.metric)

    def resume(self) -> None:
        """Continue from ``checkpoint.npz`` (same settings only)."""
        path = self.checkpoint_path
        meta, arrays = read_checkpoint(path)
        if meta.get("format") != CHECKPOINT_FORMAT or meta.get("codec") != self.codec_name:
            raise TrainingError(f"{path} is not a checkpoint of {self.codec_name}")
        training_loop.check_resumable(meta["config"], self.config, self.out)
        _assign(self.model, _model_arrays(arrays), path)
        for index, variable in enumerate(self.optimizer.variables):
            variable.assign(arrays[f"optimizer/{index}"])
        self.state, self.parent = LoopState(meta["step"], meta["elapsed_s"]), meta["parent"]
        training_loop.rewrite_curves(self.out / "curves.csv", self.state.step)

    def load_images(self) -> list[np.ndarray]:
        return training_loop.load_training_images(Path(self.config.data), self.config.patch_size,
                                                  self.config.split)

    def advance(self, step: int, lr: float) -> dict:
        config, variables = self.config, self.model.trainable_variables
        batch = sample_batch(self.images, np.random.default_rng([config.seed, step]),
                             config.batch_size, config.patch_size)
        tf.random.set_seed(config.seed * NOISE_SEED_STRIDE + step)
        self.optimizer.learning_rate.assign(lr)
        with tf.device(self.device):
            with tf.GradientTape() as tape:
                losses = self.objective(tf.constant(batch))
            gradients = tape.gradient(losses["loss"], variables)
            if config.clip_norm > 0:
                gradients, _ = tf.clip_by_global_norm(gradients, config.clip_norm)
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {key: float(value) for key, value in losses.items()} | {"aux_loss": None}

    def save_checkpoint(self) -> None:
        arrays = {f"model/{k}": v.numpy() for k, v in named_variables(self.model).items()}
        arrays.update({f"optimizer/{i}": v.numpy()
                       for i, v in enumerate(self.optimizer.variables)})
        meta = {"format": CHECKPOINT_FORMAT, "codec": self.codec_name,
                "config": self.config.to_json(), "step": self.state.step, "lambda": self.lmbda,
                "N": self.N, "M": self.M, "elapsed_s": self.state.elapsed,
                "parent": self.parent}
        _save_checkpoint(self.checkpoint_path, arrays, meta)

    def hardware(self) -> str:
        if self.device.startswith("/GPU"):
            details = tf.config.experimental.get_device_details(
                tf.config.list_physical_devices("GPU")[int(self.device.rsplit(":", 1)[1])])
            return f"{details.get('device_name', 'GPU')} (TensorFlow)"
        return training_loop.cpu_description()

    def versions(self) -> dict[str, str]:
        return {"tensorflow": tf.__version__,
                "tensorflow-compression": version("tensorflow-compression")}

    def export(self) -> tuple[Path, dict]:
        """Median offsets, range-coding tables and the TF weights file."""
        model, config = self.model, self.config
        with tf.device("/CPU:0"):
            model.quantization_offset.assign(median_offsets(model.density))
            coders = EntropyCoders(model)
        path = self.out / weights_locator.weights_filename("tensorflow", self.entry.slug,
                                                           config.quality, self.lmbda)
        metadata = training_options.rate_point_metadata(self.entry, self.codec_name, config,
                                                        self.lmbda, self.N, self.M,
                                                        self.state.step)
        convert.save_tf_weights(model, coders, path, metadata, half_kernels=config.half_kernels)
        return path, training_options.rate_point_record(config, self.lmbda, self.N, self.M)


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) ``entry`` in TensorFlow; see the module docstring."""
    return TFTraining(entry, codec_name, config).run()
