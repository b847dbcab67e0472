"""What the tiled codecs of both frameworks share (Minnen et al. 2017, "Spatially adaptive
image compression using a tiled deep network").

The image is edge-padded to whole ``S×S`` tiles and coded tile by tile
(:mod:`.tiles`): a context network predicts each tile from its decoded neighbours, the
residual coder refines it in iterations, and the encoder gives each tile the fewest
iterations ``k ≤ cap_q`` whose PSNR reaches rate point ``q``'s target (``targets_db`` of
the :class:`~codecbench.codecs.learned.models.TiledModel`): flat or well-predicted tiles
take few bits, detailed ones many. One network serves every rate point. The file (the
learned-codec container) holds::

    latent 1 (iterations)  1 × rows × columns      the counts k(i, j), categorical
    iteration t, t = 1…cap_q   C × rows·S/8 × columns·S/8   the bits of the tiles with
                           k > t − 1, binary context model (:mod:`.coding`)

Every shape follows from the header (image size, rate point); the counts are decoded
first and checked against ``cap_q``, then each iteration's bits (an iteration no tile
takes is an empty string), then the tiles are decoded in order. The estimate is
``Σ −log2 p`` of the counts and bits under the two tables.

Simplified against the paper: the residual coder is a feed-forward autoencoder applied
at every iteration with shared weights and a learned gain per iteration, not a
recurrent (LSTM/GRU) coder; the context network is convolutional on a 2×3-tile canvas;
the per-rate-point cap makes a file's iteration count a function of its rate point.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile
from codecbench.codecs.learned.entropy.index_coder import IndexCoder, binary_cumulative
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import TiledModel

if TYPE_CHECKING:
    import numpy as np

    from codecbench.codecs.learned.tiled import tiles
    from codecbench.codecs.learned.tiled.weights import TiledWeights


@dataclass
class LoadedTiled:
    """A loaded network (as a :class:`~.tiles.TileCoder`), its tables, the coder's tables
    built from them (once, at load), its weights id and the rate point in use."""

    coder: tiles.TileCoder
    contents: TiledWeights
    weights_id: bytes
    bit_tables: object
    count_tables: object
    quality: int = 0

    @property
    def channels(self) -> int:
        return self.contents.widths[2]


class TiledCodec(LearnedCodec):
    """The tiled codec on our weights; see the module docstring."""

    family = Family.CNN.value  # the survey lists Minnen et al. 2017 among its CNN systems
    prior = "tiled"
    one_network_for_all_rates = True
    entry: TiledModel
    coder: IndexCoder
    """The framework's index coder (set by the framework subclass)."""

    def __init__(self, entry: TiledModel):
        super().__init__(entry)
        targets = ", ".join(f"{t:g}" for t in entry.targets_db)
        self.description = (f"{entry.summary} (rate points = PSNR targets {targets} dB; "
                            "one network)")
        self.in_default_run = False  # a serial tile loop: selected by name
        self._loaded: LoadedTiled | None = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    @property
    def padding_multiple(self) -> int:
        return self.entry.tile

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _load_network(self, path: Path) -> tuple[tiles.TileCoder, TiledWeights]:
        """The framework's networks and the contents of the weights file ``path``."""

    # --- LearnedCodec hooks ------------------------------------------------------------
    def _network(self) -> LoadedTiled:
        from codecbench.codecs.learned.entropy import binary_codes, categorical_codes

        if self._loaded is None:
            path = self._existing_weights(1)
            coder, contents = self._load_network(path)
            bit_tables = self.coder.tables(binary_cumulative(
                binary_codes.zero_frequencies(contents.bit_table)))
            count_tables = self.coder.tables(categorical_codes.cumulative(contents.count_table))
            self._loaded = LoadedTiled(coder, contents, weights_format.weights_id(path),
                                       bit_tables, count_tables)
        return self._loaded

    def _load(self, quality: int):
        loaded = self._network()
        return LoadedTiled(loaded.coder, loaded.contents, loaded.weights_id,
                           loaded.bit_tables, loaded.count_tables, quality), loaded.weights_id

    def _grid(self, height: int, width: int) -> tiles.Grid:
        from codecbench.codecs.learned.tiled import tiles

        return tiles.Grid(height, width, self.entry.tile)

    def _cap(self, quality: int) -> int:
        return self.entry.caps[quality - 1]

    def allocate(self, loaded: LoadedTiled, image: np.ndarray) -> tiles.CodedTiles:
        """Counts, bits and decoded tiles of ``image`` at the loaded rate point."""
        from codecbench.codecs.learned.tiled import tiles

        height, width = image.shape[:2]
        padded = padded_batch(image, self.entry.tile)[0]
        return tiles.encode_tiles(loaded.coder, padded, self._grid(height, width),
                                  loaded.channels, self.entry.targets_db[loaded.quality - 1],
                                  self._cap(loaded.quality))

    def _compress(self, loaded: LoadedTiled, image: np.ndarray):
        from codecbench.codecs.learned.tiled import coding

        coded = self.allocate(loaded, image)
        grid = self._grid(*image.shape[:2])
        counts = coded.counts
        symbols = coding.count_symbols(counts)
        latents = [Latent((1, *counts.shape), self.coder.encode(
            symbols, coding.count_indexes(symbols, loaded.quality), loaded.count_tables))]
        for _, symbols, rows in coding.iteration_symbols(counts, coded.bits, grid):
            string = self.coder.encode(symbols, rows, loaded.bit_tables) if symbols.size else b""
            latents.append(Latent(coded.bits.shape[1:], string))
        estimate = coding.estimated_bits(counts, coded.bits, grid, loaded.quality,
                                         loaded.contents.bit_table, loaded.contents.count_table)
        return latents, estimate

    def _expected_latents(self, loaded: LoadedTiled, file: LearnedFile):
        """The counts, then one grid per iteration up to the rate point's cap."""
        grid = self._grid(file.height, file.width)
        shape = grid.code_shape(loaded.channels)
        return [("latent 1 (iterations)", (1, grid.rows, grid.columns)),
                *[(f"iteration {t}", shape) for t in range(1, self._cap(file.quality) + 1)]]

    def decode_codes(self, loaded: LoadedTiled, file: LearnedFile):
        """``(counts, bits)`` of a parsed file whose latents have been checked."""
        import numpy as np

        from codecbench.codecs.learned.tiled import coding

        grid = self._grid(file.height, file.width)
        cap = self._cap(file.quality)
        count_latent, *iterations = file.latents
        shape = (grid.rows, grid.columns)
        symbols = self.coder.decode(count_latent.string, coding.count_indexes(
            coding.count_symbols(np.zeros(shape, np.int64)), file.quality),
            loaded.count_tables, self.entry.iterations + 1, "iteration count")
        counts = coding.counts_of(symbols, shape)
        if counts.max(initial=0) > cap:
            raise ContainerError(f"corrupt iteration counts: a tile takes {counts.max()} "
                                 f"iterations, quality {file.quality} allows at most {cap}")
        code_shape = grid.code_shape(loaded.channels)
        bits = np.zeros((cap, *code_shape), dtype=np.uint8)
        previous = None
        for t, latent in enumerate(iterations):
            where = coding.coded_positions(counts, grid, loaded.channels, t)
            number = int(where.sum())
            if number == 0:
                if latent.string:
                    raise ContainerError(f"iteration {t + 1}: no tile takes it, but its "
                                         f"string has {len(latent.string)} bytes")
            else:
                rows = coding.bit_indexes(previous, t, code_shape)[where]
                bits[t][where] = self.coder.decode(latent.string, rows, loaded.bit_tables, 2,
                                                   f"iteration {t + 1}")
            previous = bits[t]
        return counts, bits

    def _decompress(self, loaded: LoadedTiled, file: LearnedFile) -> np.ndarray:
        from codecbench.codecs.learned.tiled import tiles

        counts, bits = self.decode_codes(loaded, file)
        grid = self._grid(file.height, file.width)
        canvas = tiles.decode_tiles(loaded.coder, counts, bits, grid, loaded.channels)
        return to_image(canvas[None], file.height, file.width)
