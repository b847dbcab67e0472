"""What the code-space predictor codecs of both frameworks share (Klopp, Wang, Chien,
Chen, "Learning a code-space predictor by exploiting intra-image dependencies", BMVC
2018).

The analysis maps the image (edge-padded to a multiple of 8) to the code ``y``
(``M × h × w``, ``h = H/8``); rate point ``k`` quantises it with its gain vector,
``q = round(g_k ⊙ y)``. The file holds ``L + 1`` latents, the coarsest sub-grid of the
code first (:mod:`.residuals`): latent ``i`` is level ``l = L − i``, of shape
``M × a_l × b_l`` (the sub-grid ``Q_l``), whose string codes the residuals ``q −
round(μ)`` at the positions of ``Q_l`` that the coarser grid does not hold. The coarsest
grid's ``μ, σ`` are per-channel learned values; level ``l``'s come from the predictor
``P_l`` run on the decoded coarser grid ``ŷ_{l+1} = g'_k ⊙ Q_{l+1}``, multiplied by
``g_k`` into ``q``'s units::

    (μ, log σ_y) = P_l(ŷ_{l+1}),   μ_q = g_k ⊙ μ,   σ_q = max(g_k ⊙ e^(log σ_y), σ_min)

The encoder codes level by level with the values the decoder will have (a residual
clipped to ``±R`` changes the coded ``q``, and the finer levels are predicted from the
coded one), so both run the predictor on identical inputs; every table index is computed
in numpy from the predictor's outputs (:class:`~.residuals.ResidualTables`). Decoding
is ``L`` predictor passes and ``L + 1`` range-decoder calls, then ``x̂ = D(g'_k ⊙ q)``.
``bpp-estimate`` is ``Σ −log2 P(q)`` under the unquantised predictions.

One weights file serves every rate point, so the weights id a file records binds the
file's weights *and* its rate point
(:func:`~codecbench.codecs.learned.weights_format.rate_point_id`: the first 8 bytes of
SHA-256 of the file's weights id followed by the rate point): a file whose quality byte
names another rate point is refused like a file of other weights, instead of decoding
with the wrong gains.

Simplified against the paper (and why; also in docs/learned-codecs.md and the model
card): the paper predicts the code block by block in raster order from the causal
neighbourhood; here a coarse-to-fine order of nested sub-grids (``L`` predictor passes
instead of one per block, so decoding is fast in Python and the encoder's and decoder's
predictions come from identical passes); each level's three phases are predicted in one
pass (no further split within a level); the residual's distribution is a Laplace with a
predicted mean and scale rather than the paper's learned context distribution, with the
scale and offset quantised to fixed 16-bit tables; plain ReLU convolutions instead of
the paper's sparse GDN; one network for every rate point through gain units (Cui et al.
2021) rather than one network per rate.

Subclasses provide the framework: :meth:`CodeSpaceCodec._load_network`,
:meth:`_analysis`, :meth:`_predict`, :meth:`_synthesis` and the index coder.
"""

from __future__ import annotations

import abc
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import SingleShotCodec
from codecbench.codecs.learned.codespace import layers
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile
from codecbench.codecs.learned.entropy.index_coder import IndexCoder
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import CodeSpaceModel

if TYPE_CHECKING:
    import numpy as np

    from codecbench.codecs.learned.codespace.residuals import ResidualTables


@dataclass
class LoadedNetwork:
    """A loaded network with its plain vectors (float64) and the coder's tables."""

    network: object
    vectors: dict[str, np.ndarray]
    coder_tables: object = None

    @property
    def code_channels(self) -> int:
        return len(self.vectors[layers.PRIOR_MEAN])


@dataclass
class LoadedRatePoint:
    """The network at one rate point: its gains ``g_k`` and ``g'_k``."""

    loaded: LoadedNetwork
    quality: int

    @property
    def encode_gain(self) -> np.ndarray:
        import numpy as np

        return np.exp(self.loaded.vectors[layers.ENCODE_GAIN][self.quality - 1])

    @property
    def decode_gain(self) -> np.ndarray:
        import numpy as np

        return np.exp(self.loaded.vectors[layers.DECODE_GAIN][self.quality - 1])


@dataclass
class CodedLevel:
    """One level as coded: the grid of coded values, the symbols, indexes and estimate."""

    grid: np.ndarray
    symbols: np.ndarray
    indexes: np.ndarray
    bits: float


class CodeSpaceCodec(SingleShotCodec):
    """The code-space predictor codec of the table on our weights; see the module docstring."""

    prior = "code-space predictor"
    one_network_for_all_rates: ClassVar[bool] = True
    coder: IndexCoder
    """The framework's index coder (set by the framework subclass)."""
    entry: CodeSpaceModel

    def __init__(self, entry: CodeSpaceModel):
        super().__init__(entry)
        self.family = Family.CNN.value
        self._networks: dict[Path, LoadedNetwork] = {}
        lambdas = ", ".join(f"q{q}: λ={lmbda:g}" for q, lmbda in zip(entry.qualities,
                                                                   entry.lambdas, strict=True))
        self.description = (f"{entry.summary} (rate points = gain vectors of one network: "
                            f"{lambdas})")
        self.in_default_run = False

    def __getstate__(self):
        state = super().__getstate__()
        state["_networks"] = {}
        return state

    @functools.cached_property
    def tables(self) -> ResidualTables:
        """The model's fixed residual tables."""
        from codecbench.codecs.learned.codespace.residuals import ResidualTables

        return ResidualTables(self.entry)

    # --- weights ids: one per rate point of the one file ----------------------------------
    def _weights_id(self, quality: int) -> bytes:
        return weights_format.rate_point_id(super()._weights_id(quality), quality)

    def _load(self, quality: int) -> tuple[object, bytes]:
        model, weights_id = super()._load(quality)
        return model, weights_format.rate_point_id(weights_id, quality)

    @property
    def version(self) -> str:
        """``<coder library> <version>; weights <id of the one weights file>``."""
        path = self.weights_file()
        ids = weights_format.weights_id(path).hex() if path is not None else "none"
        library = self.coder_library
        return f"{library} {self.library_versions()[library]}; weights {ids}"

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _load_network(self, path: Path) -> tuple[object, dict]:
        """``(network, checked state arrays)`` of a weights file (either layout)."""

    @abc.abstractmethod
    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        """``y``, ``M × h × w`` float32, of an NHWC batch of one image in [0, 1]."""

    @abc.abstractmethod
    def _predict(self, network, level: int, coarser: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(μ, log σ)`` (``M × 2a × 2b`` float32 each, code-space units) of predictor
        ``level`` on the decoded coarser grid ``M × a × b`` (float32)."""

    @abc.abstractmethod
    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        """The NHWC image in [0, 1] of the ``M × h × w`` decoded code."""

    # --- SingleShotCodec hooks ---------------------------------------------------------
    def _load_weights(self, path: Path, quality: int) -> LoadedRatePoint:
        if path not in self._networks:
            network, arrays = self._load_network(path)
            from codecbench.codecs.learned.codespace.weights import vectors

            loaded = LoadedNetwork(network, vectors(arrays))
            loaded.coder_tables = self.coder.tables(self.tables.cumulative())
            self._networks = {path: loaded}
        return LoadedRatePoint(self._networks[path], quality)

    def _expected_latents(self, model: LoadedRatePoint, file: LearnedFile):
        """``L + 1`` sub-grids ``M × a_l × b_l`` of the ``⌈H/8⌉ × ⌈W/8⌉`` code, coarsest
        first, ``M`` the channels of the loaded network."""
        channels = model.loaded.code_channels
        shapes = self.level_shapes(file.height, file.width)
        return [(f"latent {i + 1} (level {level})", (channels, *shapes[level]))
                for i, level in enumerate(range(self.entry.levels, -1, -1))]

    def level_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """``(a_l, b_l)`` of every level of an ``height × width`` image."""
        from codecbench.codecs.learned.codespace.residuals import grid_shapes

        stride = layers.STRIDE
        return grid_shapes(-(-height // stride), -(-width // stride), self.entry.levels)

    # --- prediction --------------------------------------------------------------------
    def prediction(self, model: LoadedRatePoint, level: int, coarser: np.ndarray | None,
                   shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(μ_q, σ_q)`` (float64, ``M × a × b``) of level ``level`` (grid ``shape``) from
        the coded coarser grid (``None`` at the coarsest level)."""
        import numpy as np

        gain = model.encode_gain[:, None, None]
        vectors = model.loaded.vectors
        channels = model.loaded.code_channels
        if coarser is None:
            mean = np.broadcast_to(vectors[layers.PRIOR_MEAN][:, None, None],
                                   (channels, *shape))
            log_scale = np.broadcast_to(vectors[layers.PRIOR_LOG_SCALE][:, None, None],
                                        (channels, *shape))
        else:
            y_hat = (coarser * model.decode_gain[:, None, None]).astype(np.float32)
            mean_y, log_scale_y = self._predict(model.loaded.network, level, y_hat)
            mean = mean_y[:, :shape[0], :shape[1]].astype(np.float64)
            log_scale = log_scale_y[:, :shape[0], :shape[1]].astype(np.float64)
        scale = np.maximum(np.exp(np.minimum(log_scale, 30.0)) * gain,
                           self.tables.smallest_scale)
        return mean * gain, scale

    def code_levels(self, model: LoadedRatePoint, q: np.ndarray) -> list[CodedLevel]:
        """Every level of the integer code ``q`` as the encoder codes it, coarsest first."""
        import numpy as np

        from codecbench.codecs.learned.codespace.residuals import estimated_bits, new_positions

        levels = self.entry.levels
        coded: list[CodedLevel] = []
        coarser = None
        for level in range(levels, -1, -1):
            target = q[:, ::2**level, ::2**level]
            shape = target.shape[1:]
            mask = new_positions(shape, level == levels)
            mean, scale = self.prediction(model, level, coarser, shape)
            rounded = self.tables.rounded_means(mean)
            symbols = self.tables.symbols(target, rounded)
            grid = np.empty_like(target)
            if coarser is not None:
                grid[:, ::2, ::2] = coarser
            grid[:, mask] = (rounded + symbols - self.tables.range)[:, mask]
            bits = estimated_bits(grid[:, mask], mean[:, mask], scale[:, mask])
            coded.append(CodedLevel(grid, symbols[:, mask],
                                    self.tables.indexes(mean, scale)[:, mask], bits))
            coarser = grid
        return coded

    # --- coding ------------------------------------------------------------------------
    def integer_code(self, model: LoadedRatePoint, image: np.ndarray) -> np.ndarray:
        """``q = round(g_k ⊙ y)`` (int64, ``M × h × w``) of an image."""
        import numpy as np

        y = self._analysis(model.loaded.network, padded_batch(image, self.padding_multiple))
        return np.rint(y.astype(np.float64) * model.encode_gain[:, None, None]).astype(np.int64)

    def _compress(self, model: LoadedRatePoint, image: np.ndarray):
        levels = self.code_levels(model, self.integer_code(model, image))
        latents = [Latent(level.grid.shape, self._encode_string(model, level))
                   for level in levels]
        return latents, float(sum(level.bits for level in levels))

    def _encode_string(self, model: LoadedRatePoint, level: CodedLevel) -> bytes:
        if level.symbols.size == 0:
            return b""
        return self.coder.encode(level.symbols, level.indexes, model.loaded.coder_tables)

    def decode_code(self, model: LoadedRatePoint, file: LearnedFile) -> np.ndarray:
        """The integer code ``q`` of a checked file (``M × h × w`` int64)."""
        import numpy as np

        from codecbench.codecs.learned.codespace.residuals import new_positions

        levels = self.entry.levels
        coarser = None
        for latent, level in zip(file.latents, range(levels, -1, -1), strict=True):
            shape = tuple(latent.shape[1:])
            mask = new_positions(shape, level == levels)
            mean, scale = self.prediction(model, level, coarser, shape)
            rounded = self.tables.rounded_means(mean)
            indexes = self.tables.indexes(mean, scale)[:, mask]
            if indexes.size == 0:
                if latent.string:
                    raise ContainerError(f"corrupt level {level} string: {len(latent.string)} "
                                         "bytes where no symbol is coded")
                symbols = indexes
            else:
                symbols = self.coder.decode(latent.string, indexes, model.loaded.coder_tables,
                                            self.tables.alphabet, f"level {level}")
            grid = np.empty((len(mean), *shape), dtype=np.int64)
            if coarser is not None:
                grid[:, ::2, ::2] = coarser
            grid[:, mask] = rounded[:, mask] + symbols - self.tables.range
            coarser = grid
        assert coarser is not None  # levels ≥ 0
        return coarser

    def _decompress(self, model: LoadedRatePoint, file: LearnedFile) -> np.ndarray:
        import numpy as np

        q = self.decode_code(model, file)
        y_hat = (q * model.decode_gain[:, None, None]).astype(np.float32)
        return to_image(self._synthesis(model.loaded.network, y_hat), file.height, file.width)
