"""Serial coding of ``ŷ`` under Minnen et al. 2018's context model (imports tensorflow).

Minnen, Ballé, Toderici, "Joint autoregressive and hierarchical priors for learned image
compression" (NeurIPS 2018): each element of ``ŷ`` is a Gaussian whose parameters depend
on the hyperprior and on the elements already decoded,

    (σ, μ)[h, w] = e(ψ[h, w], φ[h, w])
    φ[h, w] = b + Σ_{(r, c) causal} K[r, c] · ŷ[h + r − 2, w + c − 2]
    ŷ[h, w] = round(y[h, w] − μ[h, w]) + μ[h, w]

with ``ψ = h_s(ẑ)``, ``K`` the type-A masked 5×5 kernel (its 12 taps above the centre row
and left of the centre: :func:`~codecbench.codecs.learned.hyperprior.layers.causal_taps`),
``e`` the entropy parameters network (three 1×1 convolutions, LeakyReLU between them) and
``ŷ`` zero outside the latent. Positions are visited in raster order, all ``M`` channels
of a position at once, exactly as CompressAI's ``JointAutoregressiveHierarchicalPriors``
``_compress_ar``/``_decompress_ar`` do; each element is coded with the table entry
CompressAI's ``build_indexes`` picks (the smallest of the 64 scales not below
``max(σ, 0.11)``) by tensorflow-compression's range coder on the Gaussian tables of
:class:`tfc.LocationScaleIndexedEntropyModel` (tail mass 10⁻⁹, 16 bits).

What this module does for speed (the same function, summed in another order):

* the context convolution is evaluated on the 12 causal taps only, never on the 5×5
  window's masked-out taps;
* the first 1×1 layer is linear in ``[ψ, φ]``, so everything it gets from ``ψ`` and from
  the two rows above (10 of the 12 taps, known once the previous row is decoded) is one
  matrix product over a whole row (``ψ``: over all positions) before its positions are
  visited; per position only the two taps to the left remain, through one matrix, the
  product of the left taps' kernel and the first layer's context weights;
* the per-position arithmetic is float32 numpy (one code path for encoder and decoder, so
  both compute bit-identical parameters); the encoder codes all symbols with one call of
  the range coder after the loop, the decoder keeps one range decoder open and decodes the
  ``M`` symbols of each position with one op call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from codecbench.codecs.learned.container import ContainerError
from codecbench.codecs.learned.hyperprior import layers

CPU = "/CPU:0"
Quantiser = Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]
"""``(h, w, means, indexes) → ŷ[h, w] − μ[h, w]`` (integers as float32): the encoder rounds,
the decoder range-decodes."""


def _leaky(values: np.ndarray) -> np.ndarray:
    """LeakyReLU, ``max(x, a·x)`` for ``0 < a < 1``: exactly ``x if x > 0 else a·x``."""
    return np.maximum(values, values * np.float32(layers.LEAKY_SLOPE))


class SerialContextCoder:
    """The context model and entropy parameters of one :class:`CNNModel` as numpy
    matrices, and the serial encode/decode of ``ŷ`` (see the module docstring).

    A snapshot of the model's variables when built (codecs build it on load)."""

    def __init__(self, model, conditional: tfc.LocationScaleIndexedEntropyModel):
        self.M = int(model.M)
        masked = model.context_prediction.layers[0]
        kernel = masked.kernel.numpy().astype(np.float32)  # k×k×M×2M
        self.kernel_size = int(kernel.shape[0])
        self.pad = self.kernel_size // 2
        above, left = kernel[:self.pad], kernel[self.pad, :self.pad]  # the causal taps
        self.above = np.ascontiguousarray(above.reshape(-1, kernel.shape[-1]))
        self.left = np.ascontiguousarray(left.reshape(-1, kernel.shape[-1]))
        self.context_bias = masked.bias.numpy().astype(np.float32)
        convs = [layer for layer in model.entropy_parameters.layers
                 if isinstance(layer, tfc.SignalConv2D)]
        matrices = [np.asarray(conv.kernel, np.float32)[0, 0] for conv in convs]  # in×out
        self.biases = [np.asarray(conv.bias, np.float32) for conv in convs]
        psi_channels = 2 * self.M
        self.first_psi = np.ascontiguousarray(matrices[0][:psi_channels])
        self.first_context = np.ascontiguousarray(matrices[0][psi_channels:])
        self.left_first = np.ascontiguousarray(self.left @ self.first_context)
        self.rest = [np.ascontiguousarray(matrix) for matrix in matrices[1:]]
        table = model.scale_table.numpy().astype(np.float32)
        self.scale_bound, self.thresholds = table[0], table[:-1]
        self.cdf = conditional.cdf
        self.cdf_offset = conditional.cdf_offset.numpy().astype(np.int64)

    def _serial(self, psi: np.ndarray, quantise: Quantiser) -> np.ndarray:
        """``ŷ`` (``H×W×M``) given ``ψ`` (``H×W×2M``), position by position."""
        height, width = psi.shape[:2]
        pad, kernel, M = self.pad, self.kernel_size, self.M
        hidden = psi @ self.first_psi + self.biases[0]  # H×W×10M/3
        y_hat = np.zeros((height + pad, width + 2 * pad, M), np.float32)
        second, third = self.rest
        with np.errstate(over="ignore", invalid="ignore"):  # corrupt strings: any values
            for h in range(height):
                # rows h − 2, h − 1 of ŷ (padded rows h, h + 1): windows of `kernel` columns
                windows = np.lib.stride_tricks.sliding_window_view(
                    y_hat[h:h + pad], kernel, axis=1)  # pad × W × M × kernel
                windows = windows.transpose(1, 0, 3, 2).reshape(width, -1)  # tap-major
                above = windows @ self.above + self.context_bias
                row = hidden[h] + above @ self.first_context
                for w in range(width):
                    left = y_hat[h + pad, w:w + pad].reshape(-1)
                    out = _leaky(row[w] + left @ self.left_first)
                    out = _leaky(out @ second + self.biases[1]) @ third + self.biases[2]
                    scales, means = np.maximum(out[:M], self.scale_bound), out[M:]
                    indexes = np.searchsorted(self.thresholds, scales, side="left")
                    y_hat[h + pad, w + pad] = quantise(h, w, means, indexes) + means
        return y_hat[pad:, pad:width + pad]

    def compress(self, y: np.ndarray, psi: np.ndarray) -> tuple[bytes, np.ndarray]:
        """``(string, ŷ)`` of ``y`` (``H×W×M``) given ``ψ``."""
        height, width = y.shape[:2]
        symbols = np.empty((height, width, self.M), np.int32)
        indexes = np.empty((height, width, self.M), np.int32)

        def rounded(h: int, w: int, means: np.ndarray, index: np.ndarray) -> np.ndarray:
            values = np.round(y[h, w] - means)
            symbols[h, w] = values.astype(np.int64) - self.cdf_offset[index]
            indexes[h, w] = index
            return values

        y_hat = self._serial(psi, rounded)
        with tf.device(CPU):
            handle = tfc.create_range_encoder([], self.cdf)
            handle = tfc.entropy_encode_index(handle, indexes.reshape(-1), symbols.reshape(-1))
            string = tfc.entropy_encode_finalize(handle).numpy()
        return string, y_hat

    def decompress(self, string: bytes, psi: np.ndarray) -> np.ndarray:
        """``ŷ`` of :meth:`compress`'s string; a string the range decoder does not finish
        cleanly is a :class:`ContainerError`."""
        shape = tf.constant([self.M], tf.int32)
        with tf.device(CPU):
            try:
                handle = tfc.create_range_decoder(string, self.cdf)

                def decoded(h: int, w: int, means: np.ndarray, index: np.ndarray) -> np.ndarray:
                    nonlocal handle
                    handle, values = tfc.entropy_decode_index(
                        handle, index.astype(np.int32), shape, tf.int32)
                    return (values.numpy() + self.cdf_offset[index]).astype(np.float32)

                y_hat = self._serial(psi, decoded)
                finished = bool(tfc.entropy_decode_finalize(handle))
            except tf.errors.InvalidArgumentError:
                finished = False
        if not finished:
            raise ContainerError("corrupt y string: the range decoder did not finish cleanly")
        return y_hat
