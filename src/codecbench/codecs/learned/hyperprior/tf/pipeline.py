"""Compress and decompress one image with a TF CNN model (imports tensorflow).

Entropy coding is tensorflow-compression's: a :class:`tfc.ContinuousBatchedEntropyModel`
on the factorized density (``y`` of the factorized prior, ``z`` of the hyperpriors) and a
:class:`tfc.LocationScaleIndexedEntropyModel` of Gaussians (Gaussian-scale mixtures in
the attention architecture, Bao et al. 2022) for ``y`` given ``ẑ``, both with the range
coder of tfc. What this module adds:

* **Any image size**: edge padding to a multiple of 64, cropped after decoding (as the
  torch codecs).
* **The quantisation of CompressAI**, so the two frameworks code the same symbols:
  ``ŷ = round(y − o) + o`` with the per-channel medians ``o`` for the factorized latent,
  ``ŷ = round(y − μ) + μ`` for the Gaussian one; the scale of each element is coded with
  the table entry CompressAI's ``build_indexes`` picks (the smallest table scale not below
  the predicted one).
* **Tables**: tail mass 10⁻⁹ and 16-bit precision, CompressAI's choices (the Gaussian
  tables in float64: in float32 the upper 10⁻⁹ tail quantile of a normal rounds to ∞). The factorized
  tables come from the weights file when it carries them (:mod:`.convert`); the Gaussian
  tables are a function of the scale table alone and are built on load.
* **Devices**: ``g_a``/``g_s`` run on the chosen device (``CODECBENCH_TF_DEVICE``); the hyper
  transforms, the scale indexes and the range coder (CPU-only ops) run on the CPU, so the
  decoder recomputes exactly the encoder's indexes whatever device ran the transforms.
* **The estimate** ``Σ −log2 p(ŷ)`` under the continuous density (the unrounded scale
  for the Gaussian), each ``p`` bounded below by 10⁻⁹, as CompressAI's likelihoods give it.
* **The autoregressive prior** (Minnen 2018): ``ŷ`` is coded position by position by
  :mod:`.autoregressive` on the Gaussian tables above; its estimate, as the torch codec's,
  recomputes ``(σ, μ)`` with the whole-tensor context convolution on the coded ``ŷ``.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from codecbench.codecs.learned.container import ContainerError, Latent
from codecbench.codecs.learned.hyperprior.tf.autoregressive import SerialContextCoder

TAIL_MASS = 1e-9
RANGE_CODER_PRECISION = 16
CPU = "/CPU:0"


@contextlib.contextmanager
def expected_warnings_silenced():
    """Hide two warnings that building tables always gives: tfc's "very wide PMF" (the
    10⁻⁹ tails of the largest scale, 256, span 3131 values — as CompressAI's table does)
    and TensorFlow's retracing notice (one table function per loaded model)."""
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    absl_logging.set_verbosity(absl_logging.ERROR)
    tf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)
        tf_logger.setLevel(level)


def tf_device(name: str) -> str:
    """``cpu`` → ``/CPU:0``; ``cuda``, ``gpu`` → ``/GPU:0``; ``cuda:1`` → ``/GPU:1``."""
    kind, _, index = name.lower().partition(":")
    if kind == "cpu":
        return CPU
    if kind in ("cuda", "gpu"):
        return f"/GPU:{index or 0}"
    raise ValueError(f"unknown TensorFlow device {name!r}; use cpu, gpu or gpu:N")


class EntropyCoders:
    """The range-coding entropy models of one model (built once per loaded model)."""

    def __init__(self, model, tables: dict[str, np.ndarray] | None = None):
        self.model = model
        channels = int(model.quantization_offset.shape[0])
        with tf.device(CPU), expected_warnings_silenced():
            common = dict(coding_rank=3, compression=True, stateless=True, tail_mass=TAIL_MASS,
                          quantization_offset=tf.convert_to_tensor(model.quantization_offset))
            if tables is None:
                tables = factorized_tables(model)
            self.factorized = tfc.ContinuousBatchedEntropyModel(
                prior_shape=(channels,), cdf=tables["tables.cdf"],
                cdf_offset=tables["tables.cdf_offset"], **common)
            self.conditional = None
            self.context: SerialContextCoder | None = None
            if model.prior != "factorized":
                self.conditional = tfc.LocationScaleIndexedEntropyModel(
                    model.conditional_prior(), num_scales=int(model.scale_table.shape[0]),
                    scale_fn=model.scale_fn(), coding_rank=3, compression=True,
                    stateless=True, tail_mass=TAIL_MASS, prior_dtype=tf.float64,
                    range_coder_precision=RANGE_CODER_PRECISION)
            self.context = (SerialContextCoder(model, self.conditional)
                            if model.prior == "autoregressive" else None)

    def tables(self) -> dict[str, np.ndarray]:
        """The factorized tables, as stored in a TF weights file."""
        return {"tables.cdf": self.factorized.cdf.numpy(),
                "tables.cdf_offset": self.factorized.cdf_offset.numpy()}


def factorized_tables(model) -> dict[str, np.ndarray]:
    """Range-coding tables of ``model.density`` around its quantisation offsets.

    tfc derives them from the density (its tails at ``TAIL_MASS`` are found by an
    iterative search); run as a graph, which is seconds instead of a minute eagerly.
    """
    @tf.function
    def build():
        coder = tfc.ContinuousBatchedEntropyModel(
            model.density, coding_rank=3, compression=True, stateless=True,
            tail_mass=TAIL_MASS, range_coder_precision=RANGE_CODER_PRECISION,
            quantization_offset=tf.convert_to_tensor(model.quantization_offset))
        return coder.cdf, coder.cdf_offset

    with tf.device(CPU), expected_warnings_silenced():
        cdf, cdf_offset = build()
    return {"tables.cdf": cdf.numpy(), "tables.cdf_offset": cdf_offset.numpy()}


def median_offsets(density) -> tf.Tensor:
    """tfc's quantisation offsets of a factorized density (its medians, found by
    ``estimate_tails``; as a graph, like :func:`factorized_tables`)."""
    with tf.device(CPU):
        return tf.function(lambda: tfc.quantization_offset(density))()


def image_to_tensor(image: np.ndarray, multiple: int) -> tf.Tensor:
    """``H×W×3`` uint8 → ``1×H'×W'×3`` float in [0, 1], edge-padded to a multiple."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((0, -height % multiple), (0, -width % multiple), (0, 0)),
                    mode="edge")
    return tf.constant(padded[None].astype(np.float32) / np.float32(255.0))


def tensor_to_image(x_hat: tf.Tensor, height: int, width: int) -> np.ndarray:
    """``1×H'×W'×3`` float → ``H×W×3`` uint8 (cropped, clamped, rounded)."""
    x_hat = tf.round(tf.clip_by_value(x_hat[0, :height, :width], 0.0, 1.0) * 255.0)
    return x_hat.numpy().astype(np.uint8)


LIKELIHOOD_BOUND = 1e-9
"""Smallest probability of a symbol in the estimate, as CompressAI bounds its likelihoods:
a value far in a density's tail counts ≈ 30 bits in both frameworks, not an unbounded
``−log2 p``."""


def _bits(distribution, values) -> float:
    """``Σ −log2 max(p, 10⁻⁹)`` of ``values`` under ``distribution``."""
    log_p = tf.maximum(distribution.log_prob(values), np.log(LIKELIHOOD_BOUND))
    return float(-tf.reduce_sum(log_p) / np.log(2.0))


def _chw(tensor: tf.Tensor) -> tuple[int, int, int]:
    _, height, width, channels = tensor.shape
    return int(channels), int(height), int(width)


def _gaussian(model, z_hat):
    scales, means = model.gaussian_parameters(z_hat)
    scales = tf.maximum(scales, model.scale_table[0])
    return scales, means, model.coding_index(scales)


def compress(model, coders: EntropyCoders, x: tf.Tensor, device: str,
             rate_point: int | None = None) -> tuple[list, float]:
    """The coded latents (``y``, then ``z``) of padded ``x`` and the estimate in bits
    (``rate_point``: the 0-based row of a variable-rate network's gains)."""
    with tf.device(device):
        y = model.analysis(x, rate_point)
    with tf.device(CPU):
        y = tf.identity(y)
        offset = model.quantization_offset
        if model.prior == "factorized":
            string = coders.factorized.compress(y)
            y_hat = tf.round(y - offset) + offset
            return [Latent(_chw(y), string.numpy()[0])], _bits(model.density, y_hat)
        z = model.h_a(model.hyper_analysis_input(y))
        z_string = coders.factorized.compress(z)
        z_hat = coders.factorized.decompress(z_string, tf.shape(z)[1:3])
        latent_z = Latent(_chw(z), z_string.numpy()[0])
        if model.prior == "autoregressive":
            y_string, bits = _compress_autoregressive(model, coders, y, z_hat)
            return [Latent(_chw(y), y_string), latent_z], _bits(model.density, z_hat) + bits
        scales, means, index = _gaussian(model, z_hat)
        assert coders.conditional is not None  # built for every prior but factorized
        y_string = coders.conditional.compress(y, index, loc=means)
        loc = 0.0 if means is None else means
        y_hat = tf.round(y - loc) + loc
        bits = (_bits(model.density, z_hat)
                + _bits(model.conditional_prior()(loc=loc, scale=scales), y_hat))
        return [Latent(_chw(y), y_string.numpy()[0]), latent_z], bits


def _compress_autoregressive(model, coders: EntropyCoders, y, z_hat) -> tuple[bytes, float]:
    """The serially coded ``y`` string and the estimate of ``ŷ`` in bits."""
    assert coders.context is not None  # built for the autoregressive prior
    psi = model.h_s(z_hat)
    string, y_hat = coders.context.compress(y[0].numpy(), psi[0].numpy())
    scales, means = model.context_parameters(psi, tf.constant(y_hat[None]))
    scales = tf.maximum(scales, model.scale_table[0])
    y_rounded = tf.round(y - means) + means
    return string, _bits(model.conditional_prior()(loc=means, scale=scales), y_rounded)


def _range_decoded(name: str, decode):
    """``decode()``; tfc's range decoder refusing a corrupt string (its end-of-stream check)
    becomes a :class:`ContainerError` naming the latent."""
    try:
        return decode()
    except tf.errors.InvalidArgumentError:
        raise ContainerError(f"corrupt {name} string: the range decoder did not finish "
                             "cleanly") from None


def decompress(model, coders: EntropyCoders, latents, device: str,
               rate_point: int | None = None) -> tf.Tensor:
    """The padded reconstruction ``1×H'×W'×3`` of :func:`compress`'s latents, whose shapes
    the codec's ``decode`` has checked against the model and the image size (tfc sizes
    ``ŷ`` from ``ẑ``'s shape)."""
    with tf.device(CPU):
        y_latent = latents[0]
        if model.prior == "factorized":
            y_hat = _range_decoded("y", lambda: coders.factorized.decompress(
                tf.constant([y_latent.string]), list(y_latent.shape[1:])))
        else:
            z_latent = latents[1]
            z_hat = _range_decoded("z", lambda: coders.factorized.decompress(
                tf.constant([z_latent.string]), list(z_latent.shape[1:])))
            if model.prior == "autoregressive":
                assert coders.context is not None  # built for the autoregressive prior
                psi = model.h_s(z_hat)[0].numpy()
                y_hat = tf.constant(coders.context.decompress(y_latent.string, psi)[None])
            else:
                _, means, index = _gaussian(model, z_hat)
                assert coders.conditional is not None  # built for every prior but factorized
                y_hat = _range_decoded("y", lambda: coders.conditional.decompress(
                    tf.constant([y_latent.string]), index, loc=means))
    with tf.device(device):
        x_hat = model.synthesis(y_hat, rate_point)
    with tf.device(CPU):
        return tf.identity(x_hat)
