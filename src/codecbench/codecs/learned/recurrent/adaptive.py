"""Spatially adaptive bit rates for the recurrent codecs (``*/johnston2018-adaptive``).

Johnston et al. 2018, "Improved lossy image compression with priming and spatially
adaptive bit rates for recurrent networks" (CVPR 2018), §3.3: one network codes every
region, but the encoder stops sending a region's bits once its reconstruction is good
enough, so simple regions cost few iterations and complex ones many. With the codes
``b_t ∈ {−1, 1}^{C×h×w}`` of :mod:`codecbench.codecs.learned.recurrent.codec` and a stop
map ``k(i, j) ∈ 1…T`` (:mod:`.stop_maps`), iteration ``t`` runs::

    m_t(i, j) = [t ≤ k(i, j)]                       active code positions
    b̃_t      = m_t · B(E_t(x − x̂_{t−1}))          stopped positions get the zero code
    x̂_t      = x̂_{t−1} + M_t · D_t(b̃_t)           M_t: the active positions' pixels
    x̂_1      = D_1(b_1)                             (priming as the base model)

and the encoder sets ``k(i, j) = t`` at the first ``t`` after which the position's blocks
(:attr:`~codecbench.codecs.learned.models.AdaptiveRecurrentModel.block`) have a PSNR of at
least the rate point's target, or after which its PSNR rose by less than
``min_gain_db`` (else ``T``). The decoder learns ``k`` from the file and feeds the same
zero codes and masks, so it computes the encoder's ``x̂`` exactly.

File (the learned-codec container; quality byte = target index): ``latent 1 (stop map)``
of shape ``1×h×w`` (:mod:`.stop_maps`), then ``latent t + 1 (iteration t)`` of shape
``C×h×w`` for ``t = 1…K``, ``K = max k`` (checked against the stop map). Iteration ``t``'s
string codes only the bits of positions with ``k ≥ t``, with the base model's binary
context model (:mod:`codecbench.codecs.learned.entropy.binary_codes`), whose contexts read
the previous iteration's bits with stopped positions as 0. The weights id in the file is
that of the weights and the target (the first 8 bytes of
``SHA-256(weights id ‖ "psnr-target <dB>")``), so a file claiming another rate point is
refused although its bits would decode.

Simplifications against the paper: the target is a per-block **PSNR** over each 16×16 code
position (the paper uses an SSIM-based quality of 8×8 blocks): PSNR is defined on flat
blocks, where SSIM's contrast and structure terms are near 1 for any reconstruction, and it
is the leaderboards' first metric. Stopped positions keep their pixels (``M_t``): the paper
lets the decoder go on updating them from zero codes, which our network, never trained
with zero codes, turns into errors. The saturation rule (``min_gain_db``) is ours: the
small network saturates after about 8 iterations. The network is the priming model as
trained; the stop map is coded with the image's own histogram, not a learned model.
Framework-free: subclasses provide the framework's tensors and the base codec.
"""

from __future__ import annotations

import abc
import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile
from codecbench.codecs.learned.entropy.index_coder import IndexCoder, binary_cumulative
from codecbench.codecs.learned.models import AdaptiveRecurrentModel, RecurrentModel
from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling
from codecbench.codecs.learned.recurrent.codec import RecurrentCodec

if TYPE_CHECKING:
    import numpy as np

    from codecbench.codecs.learned.recurrent.layers import RecurrentPlan

STOP_MAP = "latent 1 (stop map)"


def iteration_name(t: int) -> str:
    """The name of iteration ``t``'s latent (1-based) in file errors."""
    return f"latent {t + 1} (iteration {t})"


def rate_point_id(weights_id: bytes, target: float) -> bytes:
    """The id a file of target ``target`` carries: weights and target together."""
    return hashlib.sha256(weights_id + f"psnr-target {target:g}".encode()).digest()[:8]


def masked_codes(bits: np.ndarray, active: np.ndarray, tiling) -> np.ndarray:
    """The NHWC decoder input of one iteration: ``±1`` at active positions, 0 elsewhere."""
    import numpy as np

    values = (bits.astype(np.float32) * 2 - 1) * active.astype(np.float32)
    return recurrent_tiling.grid_to_codes(values, tiling)


class Network(Protocol):
    """Either framework's recurrent network (``recurrent/{torch,tf}/network.py``)."""

    plan: RecurrentPlan

    def encoder_state(self, x) -> Any: ...
    def decoder_state(self, codes) -> Any: ...
    def encode_step(self, residual, state) -> tuple[Any, Any]: ...
    def decode_step(self, codes, state) -> tuple[Any, Any]: ...


@dataclass
class LoadedAdaptive:
    """The base network, its context table and coder tables, and the rate point's target."""

    network: Network
    probabilities: np.ndarray
    coder_tables: object
    target: float


@dataclass
class AdaptiveCodes:
    """What the encoder decided: the ``K×C×h×w`` bits (0 where stopped), the stop map and
    the image the decoder will reconstruct from them."""

    bits: np.ndarray
    stops: np.ndarray
    image: np.ndarray


class AdaptiveRecurrentCodec(LearnedCodec):
    """Encode/decode with a per-block stop map (see the module docstring)."""

    family = Family.RNN.value
    prior = "recurrent"
    one_network_for_all_rates = True
    entry: AdaptiveRecurrentModel
    coder: IndexCoder

    def __init__(self, entry: AdaptiveRecurrentModel, fixed: RecurrentCodec):
        super().__init__(entry)
        base: RecurrentModel = fixed.entry
        if base.patch or not base.entropy_coded or base.reconstruction != "additive":
            raise ValueError(f"{entry.slug}: spatially adaptive coding needs a full-image, "
                             f"additive, entropy-coded base model, not {base.slug}")
        self.fixed = fixed
        self.base = base
        targets = ", ".join(f"{target:g}" for target in entry.targets)
        self.description = (f"{entry.summary} (rate points = per-block PSNR targets "
                            f"{targets} dB; network and weights of {fixed.name})")
        self.in_default_run = False
        self._loaded: tuple[Network, np.ndarray, object] | None = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _context(self) -> AbstractContextManager:
        """Where the network runs (no gradients, the CPU)."""

    @abc.abstractmethod
    def _tensor(self, array: np.ndarray):
        """The framework tensor of an NHWC float32 array."""

    @abc.abstractmethod
    def _array(self, tensor) -> np.ndarray:
        """The NHWC float32 array of a framework tensor."""

    # --- weights: the base codec's --------------------------------------------------------
    @property
    def weights_sources(self) -> tuple[str, ...]:
        return self.fixed.weights_sources

    def weights_file(self, quality: int | None = None) -> Path | None:
        """The base codec's weights file (one for every target)."""
        return self.fixed.weights_file()

    @property
    def no_weights_reason(self) -> str:
        return f"{self.fixed.no_weights_reason} (runs {self.fixed.name}'s weights)"

    def _weights_id(self, quality: int) -> bytes:
        return rate_point_id(weights_format.weights_id(self._existing_weights(quality)),
                             self.entry.target(quality))

    def _base_network(self) -> tuple[Network, np.ndarray, object]:
        from codecbench.codecs.learned.entropy import binary_codes

        if self._loaded is None:
            network, probabilities = self.fixed._load_network(self._existing_weights(1))
            assert probabilities is not None  # checked: the base model is entropy coded
            tables = self.coder.tables(binary_cumulative(
                binary_codes.zero_frequencies(probabilities)))
            self._loaded = (cast(Network, network), probabilities, tables)
        return self._loaded

    def _load(self, quality: int):
        network, probabilities, tables = self._base_network()
        return (LoadedAdaptive(network, probabilities, tables, self.entry.target(quality)),
                self._weights_id(quality))

    # --- the network with zero codes for stopped positions ------------------------------
    def decide(self, loaded: LoadedAdaptive, image: np.ndarray) -> AdaptiveCodes:
        """Run up to ``T`` iterations, stopping each code position at the target."""
        import numpy as np

        from codecbench.codecs.learned.entropy import binary_codes
        from codecbench.codecs.learned.recurrent import stop_maps

        network = loaded.network
        plan = network.plan
        batch, tiling = recurrent_tiling.network_input(image, 0)
        limit = stop_maps.target_mse(loaded.target)
        iterations = self.base.iterations
        grid = tiling.code_grid
        stops = np.full(grid, iterations, dtype=np.int64)
        active = np.ones(grid, dtype=bool)
        codes: list[np.ndarray] = []
        previous = np.zeros(grid)
        decoded = image
        with self._context():
            x = self._tensor(batch)
            x_hat = self._tensor(np.zeros_like(batch))
            encoder_state = decoder_state = None
            for t in range(iterations):
                residual = x - x_hat
                if t == 0:
                    encoder_state = plan.prime(network.encode_step, residual,
                                               network.encoder_state(x))
                code, encoder_state = network.encode_step(residual, encoder_state)
                grid_bits = recurrent_tiling.codes_to_grid(
                    binary_codes.to_bits(self._array(code)), tiling) * active
                codes.append(grid_bits)
                code = self._tensor(masked_codes(grid_bits, active, tiling))  # as decoded
                if t == 0:
                    decoder_state = plan.prime(network.decode_step, code,
                                               network.decoder_state(code))
                output, decoder_state = network.decode_step(code, decoder_state)
                x_hat = self._accumulate(t, x_hat, output, active, tiling)
                decoded = recurrent_tiling.network_output_to_image(self._array(x_hat), tiling)
                mse = stop_maps.block_mse(image, decoded, tiling, self.entry.block)
                reached = mse <= limit
                if t:  # saturated: the last iteration gained less than min_gain_db
                    reached |= stop_maps.gain_db(previous, mse) < self.entry.min_gain_db
                done = active & reached
                previous = mse
                stops[done] = t + 1
                active &= ~done
                if not active.any():
                    break
        return AdaptiveCodes(np.stack(codes), stops, decoded)

    def reconstruct(self, loaded: LoadedAdaptive, bits: np.ndarray, stops: np.ndarray,
                    file: LearnedFile) -> np.ndarray:
        """The ``H×W×3`` uint8 image of ``K×C×h×w`` bits and the stop map."""
        tiling = recurrent_tiling.Tiling(file.height, file.width, 0)
        network = loaded.network
        plan = network.plan
        x_hat = state = None
        with self._context():
            for t, grid in enumerate(bits):
                active = stops >= t + 1
                code = self._tensor(masked_codes(grid, active, tiling))
                if t == 0:
                    state = plan.prime(network.decode_step, code, network.decoder_state(code))
                output, state = network.decode_step(code, state)
                x_hat = self._accumulate(t, x_hat, output, active, tiling)
            return recurrent_tiling.network_output_to_image(self._array(x_hat), tiling)

    def _accumulate(self, t: int, x_hat, output, active: np.ndarray, tiling):
        """``x̂_t = x̂_{t−1} + M_t·D_t(b̃_t)``, ``M_t`` the active positions' pixels
        (``x̂_1 = D_1(b_1)``: every position is coded once), one expression for encoder and
        decoder so that both compute the same floats."""
        import numpy as np

        if t == 0:
            return output
        pixels = np.repeat(np.repeat(active, recurrent_tiling.CODE_STRIDE, axis=0),
                           recurrent_tiling.CODE_STRIDE, axis=1)
        return x_hat + output * self._tensor(pixels[None, :, :, None].astype(np.float32))

    # --- LearnedCodec hooks -------------------------------------------------------------
    def _compress(self, loaded: LoadedAdaptive, image: np.ndarray):
        import numpy as np

        from codecbench.codecs.learned.entropy import binary_codes
        from codecbench.codecs.learned.recurrent import stop_maps

        decided = self.decide(loaded, image)
        bits, stops = decided.bits, decided.stops
        stop_string, estimate = stop_maps.encode(stops, self.base.iterations, self.coder)
        latents = [Latent((1, *stops.shape), stop_string)]
        indexes = binary_codes.iteration_indexes(bits)
        p_one = np.asarray(loaded.probabilities, dtype=np.float64).ravel()
        for t in range(len(bits)):
            active = np.broadcast_to(stops >= t + 1, bits.shape[1:])
            symbols, where = bits[t][active], indexes[t][active]
            latents.append(Latent(bits.shape[1:], self.coder.encode(symbols, where,
                                                                    loaded.coder_tables)))
            estimate -= float(np.where(symbols == 1, np.log2(p_one[where]),
                                       np.log2(1.0 - p_one[where])).sum())
        return latents, estimate

    def _expected_latents(self, loaded: LoadedAdaptive, file: LearnedFile):
        """The stop map and ``K`` iterations, ``K`` the file's count (1…T), checked against
        the stop map when it is decoded; shapes from the header's image size."""
        iterations = self.base.iterations
        coded = len(file.latents) - 1
        if not 1 <= coded <= iterations:
            raise ContainerError(f"latent count {len(file.latents)}: expected 2 to "
                                 f"{iterations + 1} (the stop map and 1–{iterations} "
                                 f"iterations) for {self.name} quality {file.quality}")
        grid = recurrent_tiling.Tiling(file.height, file.width, 0).code_grid
        return [(STOP_MAP, (1, *grid)),
                *((iteration_name(t), (self.base.code_channels, *grid))
                  for t in range(1, coded + 1))]

    def decode_codes(self, loaded: LoadedAdaptive, file: LearnedFile
                     ) -> tuple[np.ndarray, np.ndarray]:
        """``(K×C×h×w bits, stop map)`` of a parsed, checked file (0 where stopped)."""
        import numpy as np

        from codecbench.codecs.learned.entropy import binary_codes
        from codecbench.codecs.learned.recurrent import stop_maps

        shape = tuple(file.latents[1].shape)
        grid = (shape[1], shape[2])
        coded = len(file.latents) - 1
        stops = stop_maps.decode(file.latents[0].string, grid, self.base.iterations, coded,
                                 self.coder)
        bits = np.zeros((coded, *shape), dtype=np.uint8)
        previous = None
        for t in range(coded):
            active = np.broadcast_to(stops >= t + 1, shape)
            indexes = binary_codes.context_indexes(
                t, binary_codes.context_states(previous, shape))[active]
            bits[t][active] = self.coder.decode(file.latents[t + 1].string, indexes,
                                                loaded.coder_tables, 2, f"iteration {t + 1}")
            previous = bits[t]
        return bits, stops

    def _decompress(self, loaded: LoadedAdaptive, file: LearnedFile) -> np.ndarray:
        bits, stops = self.decode_codes(loaded, file)
        return self.reconstruct(loaded, bits, stops, file)
