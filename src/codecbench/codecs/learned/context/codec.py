"""What the codecs of Mentzer et al. (2018) in both frameworks share
(``torch/mentzer2018-context``, ``tf/mentzer2018-context``).

"Conditional probability models for deep image compression" (CVPR 2018): the encoder
maps the image (edge-padded to a multiple of 8) to ``K`` latent channels ``z`` and an
importance map ``y ∈ (0, 1)`` at 1/8 of the resolution. Rate point ``q`` keeps
``ℓ = min(⌈K_q·y⌉, K_q)`` channels at each position (``K_q`` the rate point's channel
budget); the kept values are quantised to the nearest of ``L`` learned centres and coded
with the categorical distributions of the 3-D CNN context model ``P``; the masked
(dropped) values are not coded and decode to 0. The file (the learned-codec container):

* latent 1: the importance levels ``ℓ`` (``1 × h × w``), range coded with the rate point's
  row of the importance table (counted on the training crops);
* latents 2 … ``K_q + 1``: slice ``d = 0 … K_q − 1`` of the volume, the symbols of the
  positions with ``ℓ > d`` in raster order, each with its own 16-bit row of ``P``'s
  probabilities (:mod:`codecbench.codecs.learned.entropy.categorical_codes`). Each
  slice's shape is the grid ``1 × h × w``; which positions it holds follows from the
  levels (a slice they leave empty is an empty string).

``P`` is causal in depth, so decoding runs it once per slice, on the slices decoded so
far (:mod:`.volume`); the encoder computes every slice's probabilities the same way, so
both sides quantise identical floats. The estimate is ``Σ −log2 p`` of the levels and
symbols.

**Simplified against the paper** (and why): the paper's context model is masked in
raster order over (channel, row, column), i.e. each symbol conditioned on every earlier
one; decoding it exactly needs one network pass per symbol, ``K·h·w`` passes (minutes
per image in Python). Ours is masked in depth only — slice ``d`` conditioned on slices
``< d`` (3×3 spatial extent per layer) and on the importance map — so a decoder needs
``K_q`` passes. The paper codes the masked volume with the context model; we code the
importance map explicitly (a static table per rate point) and skip the masked symbols,
so the decoder needs nothing but the bytes. One network serves every rate point (the
budget ``K_q`` scales the importance map) instead of one network per target rate. The
networks are small (:class:`~codecbench.codecs.learned.models.ConditionalModel`) and
run on the CPU.

Subclasses provide the framework: :meth:`ConditionalCodec._load_network`,
:meth:`_analysis`, :meth:`_context_logits`, :meth:`_synthesis` and the index coder.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile
from codecbench.codecs.learned.entropy.index_coder import IndexCoder
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import ConditionalModel

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class LoadedConditional:
    """A loaded network, what the coder needs of its tables, and the rate point's budget."""

    network: object
    centres: np.ndarray
    importance: np.ndarray
    code_channels: int
    reach: tuple[int, int]
    weights_id: bytes
    importance_tables: object
    quality: int = 0
    budget: int = 0


class ConditionalCodec(LearnedCodec):
    """A model of Mentzer et al. (2018) on our weights; see the module docstring."""

    family = Family.CNN.value
    prior = "context-model"
    one_network_for_all_rates = True
    coder: IndexCoder
    entry: ConditionalModel

    def __init__(self, entry: ConditionalModel):
        super().__init__(entry)
        self._loaded: LoadedConditional | None = None
        budgets = ", ".join(f"q{q}: {b}" for q, b in zip(entry.qualities, entry.budgets,
                                                         strict=True))
        self.description = (f"{entry.summary} (rate points = channel budgets of "
                            f"{entry.code_channels}: {budgets}; one network)")
        self.in_default_run = False  # K_q network passes per image: selected by name

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _load_network(self, path: Path) -> tuple[object, np.ndarray, np.ndarray, int,
                                                 tuple[int, int]]:
        """``(network, centres, importance table, K, context reach)`` of a weights file."""

    @abc.abstractmethod
    def _analysis(self, network, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z, y)``: ``K × h × w`` latents and the ``h × w`` importance map in (0, 1) of an
        NHWC batch of one image in [0, 1] (float32)."""

    @abc.abstractmethod
    def _context_logits(self, network, values: np.ndarray, mask: np.ndarray,
                        depth: int) -> np.ndarray:
        """``L × h × w`` float32 logits of ``P`` at slice ``depth`` of a ``D × h × w``
        window of the volume (values and mask, float32)."""

    @abc.abstractmethod
    def _synthesis(self, network, z_hat: np.ndarray) -> np.ndarray:
        """The NHWC image in [0, 1] of the ``K × h × w`` decoded volume."""

    # --- loading -----------------------------------------------------------------------
    def _network(self) -> LoadedConditional:
        """The network of every rate point, loaded once per process."""
        from codecbench.codecs.learned.entropy import categorical_codes

        if self._loaded is None:
            path = self._existing_weights(1)
            network, centres, importance, channels, reach = self._load_network(path)
            tables = self.coder.tables(categorical_codes.cumulative(importance))
            self._loaded = LoadedConditional(network, centres, importance, channels, reach,
                                             weights_format.weights_id(path), tables)
        return self._loaded

    def _load(self, quality: int):
        loaded = self._network()
        budget = self.entry.budget_of(quality, loaded.code_channels)
        return replace(loaded, quality=quality, budget=budget), loaded.weights_id

    # --- coding ------------------------------------------------------------------------
    def slice_probabilities(self, loaded: LoadedConditional, values: np.ndarray,
                            mask: np.ndarray, depth: int) -> np.ndarray:
        """``n × L`` float64 probabilities of the symbols of slice ``depth`` (the positions
        its mask keeps, raster order), given the volume's values of slices ``< depth``."""
        from codecbench.codecs.learned.context import volume

        window, window_mask, index = volume.context_window(values, mask, depth,
                                                           *loaded.reach)
        logits = self._context_logits(loaded.network, window, window_mask, index)
        return volume.softmax(logits[:, mask[depth]].T)

    def _importance_indexes(self, loaded: LoadedConditional, shape) -> np.ndarray:
        import numpy as np

        return np.full(shape, loaded.quality - 1, dtype=np.int64)

    def _compress(self, loaded: LoadedConditional, image: np.ndarray):
        import numpy as np

        from codecbench.codecs.learned.context import volume

        z, y = self._analysis(loaded.network, padded_batch(image, self.padding_multiple))
        levels = volume.levels(y, loaded.budget)
        mask = volume.mask_of(levels, loaded.code_channels)
        symbols = volume.nearest_centres(z, loaded.centres)
        values = np.where(mask, loaded.centres[symbols], 0.0).astype(np.float32)
        indexes = self._importance_indexes(loaded, levels.shape)
        grid = (1, *levels.shape)
        latents = [Latent(grid, self.coder.encode(levels, indexes,
                                                  loaded.importance_tables))]
        estimate = float(-np.log2(loaded.importance[loaded.quality - 1][levels]).sum())
        for depth in range(loaded.budget):
            kept = symbols[depth][mask[depth]]
            if not len(kept):
                latents.append(Latent(grid, b""))
                continue
            probabilities = self.slice_probabilities(loaded, values, mask, depth)
            estimate += volume.symbol_bits(probabilities, kept)
            tables = self.coder.tables(volume.slice_rows(probabilities))
            latents.append(Latent(grid, self.coder.encode(kept, np.arange(len(kept)), tables)))
        return latents, estimate

    def _expected_latents(self, loaded: LoadedConditional, file: LearnedFile):
        """The ``1 × ⌈H/8⌉ × ⌈W/8⌉`` importance levels, then ``K_q`` slices of that grid."""
        multiple = self.padding_multiple
        grid = (1, -(-file.height // multiple), -(-file.width // multiple))
        return [("latent 1 (importance map)", grid), *(
            (f"latent {d + 2} (slice {d + 1})", grid) for d in range(loaded.budget))]

    def decode_volume(self, loaded: LoadedConditional,
                      file: LearnedFile) -> tuple[np.ndarray, np.ndarray]:
        """``(levels, symbols)`` of a checked file (symbols ``−1`` where masked)."""
        import numpy as np

        from codecbench.codecs.learned.context import volume

        grid = tuple(file.latents[0].shape[1:])
        levels = self.coder.decode(file.latents[0].string,
                                   self._importance_indexes(loaded, grid),
                                   loaded.importance_tables, loaded.code_channels + 1,
                                   "importance map")
        if levels.max(initial=0) > loaded.budget:
            raise ContainerError(f"corrupt importance map: level {levels.max()} above the "
                                 f"budget {loaded.budget} of quality {loaded.quality}")
        mask = volume.mask_of(levels, loaded.code_channels)
        values = np.zeros(mask.shape, np.float32)
        symbols = np.full(mask.shape, -1, np.int64)
        for depth, latent in enumerate(file.latents[1:]):
            count = int(mask[depth].sum())
            if not count:
                if latent.string:
                    raise ContainerError(f"corrupt slice {depth + 1}: {len(latent.string)} "
                                         "bytes for a slice without symbols")
                continue
            probabilities = self.slice_probabilities(loaded, values, mask, depth)
            tables = self.coder.tables(volume.slice_rows(probabilities))
            decoded = self.coder.decode(latent.string, np.arange(count), tables,
                                        self.entry.centres, f"slice {depth + 1}")
            symbols[depth][mask[depth]] = decoded
            values[depth][mask[depth]] = loaded.centres[decoded]
        return levels, symbols

    def _decompress(self, loaded: LoadedConditional, file: LearnedFile) -> np.ndarray:
        import numpy as np

        levels, symbols = self.decode_volume(loaded, file)
        mask = symbols >= 0
        z_hat = np.where(mask, loaded.centres[np.maximum(symbols, 0)], 0.0).astype(np.float32)
        return to_image(self._synthesis(loaded.network, z_hat), file.height, file.width)
