"""``codecbench train tf/<model>``: rate–distortion training on tensorflow-compression.

The same objective and options as ``torch/<model>`` (:mod:`codecbench.api.training`),
in tfc's idiom (Ballé et al. 2017, 2018; tfc's ``models/bmshj2018.py``):

* ``ContinuousBatchedEntropyModel`` (factorized density) and
  ``LocationScaleIndexedEntropyModel`` (Gaussian on the log-uniform scale table, indexed
  by the continuous index of the predicted scale) with ``training=True``: additive uniform
  noise replaces rounding, and the rate is ``Σ −log2 p(ỹ)``;
* ``L = λ·255²·MSE + bpp`` or ``λ·(1 − MS-SSIM) + bpp`` (``tf.image.ssim_multiscale``);
* one Adam on every variable, the shared step schedule, global-norm clipping. tfc needs no
  auxiliary loss (CompressAI's quantile fitting): the tails and the median offset are
  computed from the density when the tables are built, so ``--aux-lr`` is recorded but
  unused and ``aux_loss`` stays empty in ``curves.csv``.

Exact resume: the crops of step ``s`` come from ``numpy.random.default_rng([seed, s])``
and the noise from ``tf.random.set_seed(seed · 1000003 + s)``, so a resumed
run draws what an uninterrupted one would; ``checkpoint.npz`` (written atomically) holds
the model and optimiser variables, the step and the settings. At the end the median
offsets and range-coding tables are computed and ``<model>-q<Q>.tf.safetensors`` (a
``CODECBENCH_TF_WEIGHTS`` folder as is) and ``training.json`` are written.
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
from codecbench.codecs.learned import training_loop, weights_format, weights_locator
from codecbench.codecs.learned.hyperprior.tf import convert
from codecbench.codecs.learned.hyperprior.tf.network import CNNModel, named_variables
from codecbench.codecs.learned.hyperprior.tf.pipeline import (
    EntropyCoders,
    median_offsets,
    tf_device,
)
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.training_loop import LoopState, TrainingError

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
            scales, means = model.gaussian_parameters(z_tilde)
            assert self.conditional is not None  # built for every prior but factorized
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
    _assign(model, {k: v.numpy() for k, v in named_variables(source).items()}, path)
    return {"weights": str(path), "lambda": metadata.get("lambda"), "steps": metadata.get("steps")}


def _save_checkpoint(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    with atomic_output(path, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) ``entry`` in TensorFlow; see the module docstring."""
    training_loop.refuse_gan_options(config, codec_name)
    training_loop.check_patch_size(config, entry.padding_multiple, codec_name)
    device = tf_device(config.device)
    lmbda = training_loop.lambda_of_run(entry, config)
    N, M = config.channels or (entry.N, entry.M)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.npz"

    tf.keras.utils.set_random_seed(config.seed)
    with tf.device(device):
        model = CNNModel(entry.prior, N, M)
        optimizer = tf.keras.optimizers.Adam(learning_rate=config.learning_rate)
        optimizer.build(model.trainable_variables)
    state, parent = LoopState(), None
    if checkpoint_path.exists():
        meta, arrays = read_checkpoint(checkpoint_path)
        if meta.get("format") != CHECKPOINT_FORMAT or meta.get("codec") != codec_name:
            raise TrainingError(f"{checkpoint_path} is not a checkpoint of {codec_name}")
        training_loop.check_resumable(meta["config"], config, out)
        _assign(model, _model_arrays(arrays), checkpoint_path)
        for index, variable in enumerate(optimizer.variables):
            variable.assign(arrays[f"optimizer/{index}"])
        state, parent = LoopState(meta["step"], meta["elapsed_s"]), meta["parent"]
        training_loop.rewrite_curves(out / "curves.csv", state.step)
    elif config.init_from is not None:
        parent = _load_initial_weights(model, Path(config.init_from))

    images = training_loop.load_training_images(Path(config.data), config.patch_size)
    objective = RateDistortion(model, lmbda, config.metric)
    variables = model.trainable_variables

    def save_checkpoint() -> None:
        arrays = {f"model/{k}": v.numpy() for k, v in named_variables(model).items()}
        arrays.update({f"optimizer/{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
        meta = {"format": CHECKPOINT_FORMAT, "codec": codec_name, "config": config.to_json(),
                "step": state.step, "lambda": lmbda, "N": N, "M": M,
                "elapsed_s": state.elapsed, "parent": parent}
        _save_checkpoint(checkpoint_path, arrays, meta)

    def train_step(step: int, lr: float) -> dict:
        batch = sample_batch(images, np.random.default_rng([config.seed, step]),
                             config.batch_size, config.patch_size)
        tf.random.set_seed(config.seed * NOISE_SEED_STRIDE + step)
        optimizer.learning_rate.assign(lr)
        with tf.device(device):
            with tf.GradientTape() as tape:
                losses = objective(tf.constant(batch))
            gradients = tape.gradient(losses["loss"], variables)
            if config.clip_norm > 0:
                gradients, _ = tf.clip_by_global_norm(gradients, config.clip_norm)
            optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {key: float(value) for key, value in losses.items()} | {"aux_loss": None}

    return training_loop.run_to_completion(
        config, f"train {codec_name} λ={lmbda:g}", state, train_step, save_checkpoint,
        lambda: _export(model, entry, codec_name, config, out, lmbda, N, M, state, parent,
                        len(images)))


def _hardware(device: str) -> str:
    if device.startswith("/GPU"):
        details = tf.config.experimental.get_device_details(
            tf.config.list_physical_devices("GPU")[int(device.rsplit(":", 1)[1])])
        return f"{details.get('device_name', 'GPU')} (TensorFlow)"
    return training_loop.cpu_description()


def _export(model, entry, codec_name, config, out, lmbda, N, M, state, parent, n_images) -> Path:
    """Median offsets, range-coding tables, the TF weights file and ``training.json``."""
    with tf.device("/CPU:0"):
        model.quantization_offset.assign(median_offsets(model.density))
        coders = EntropyCoders(model)
    if config.quality:
        path = out / weights_locator.weights_filename("tensorflow", entry.slug, config.quality)
    else:
        path = out / f"{entry.slug}-lambda{lmbda:g}.tf.safetensors"
    metadata = training_loop.weights_metadata(entry, codec_name, config, lmbda, N, M, state.step)
    convert.save_tf_weights(model, coders, path, metadata, half_kernels=config.half_kernels)
    record = training_loop.training_record(
        entry, codec_name, config, lmbda, N, M, state, _hardware(tf_device(config.device)),
        n_images, parent, {"tensorflow": tf.__version__,
                           "tensorflow-compression": version("tensorflow-compression")},
        weights_format.weights_id(path).hex())
    training_loop.write_training_record(out, record)
    return path
