"""What the GC codecs (``torch/agustsson2019-gc``, ``tf/agustsson2019-gc``) share.

Agustsson et al. (2019) global generative compression: the encoder maps the image
(edge-padded to a multiple of 16) to ``C×H/16×W/16`` symbols in ``[0, L)``; the file is
the learned-codec container with one latent, the symbols range coded with the
per-channel probability table of :mod:`codecbench.codecs.learned.entropy.categorical_codes` (its
``bpp-estimate`` is ``Σ −log2 P``); decoding runs the generator on the symbols' centres
and crops the padding. One network per rate point ``q`` (``C`` of the table).

Subclasses provide the framework: :meth:`GenerativeCodec._symbols`,
:meth:`_reconstruct`, the weights (:meth:`_load_network`) and the framework's index
coder (:mod:`codecbench.codecs.learned.entropy.index_coder`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.codec import Family
from codecbench.codecs.learned.codec import SingleShotCodec
from codecbench.codecs.learned.container import Latent, LearnedFile
from codecbench.codecs.learned.entropy.index_coder import IndexCoder
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import GenerativeModel

if TYPE_CHECKING:
    import numpy as np


@dataclass
class LoadedGenerative:
    """A loaded network with its symbol table and the coder's tables built from it."""

    network: object
    probabilities: np.ndarray
    coder_tables: object = None


class GenerativeCodec(SingleShotCodec):
    """A GC model of the table on our weights; see the module docstring."""

    family = Family.GAN.value
    prior = "categorical"
    coder: IndexCoder
    """The framework's index coder (set by the framework subclass)."""
    entry: GenerativeModel

    def __init__(self, entry: GenerativeModel):
        super().__init__(entry)
        channels = ", ".join(f"q{q}: C={c}" for q, c in zip(entry.qualities, entry.channels,
                                                           strict=True))
        self.description = (f"{entry.summary} (rate points = bottleneck channels: {channels}; "
                            "symbols range coded)")
        self.in_default_run = False  # the GAN family is selected by name

    # --- what subclasses provide -------------------------------------------------------
    @abc.abstractmethod
    def _load_network(self, path: Path, quality: int) -> LoadedGenerative:
        """The network and symbol table of the weights file of rate point ``quality``."""

    @abc.abstractmethod
    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        """``C×h×w`` int symbols of an NHWC batch of one image."""

    @abc.abstractmethod
    def _reconstruct(self, network, symbols: np.ndarray) -> np.ndarray:
        """The NHWC image in [0, 1] of ``C×h×w`` symbols."""

    # --- SingleShotCodec hooks ---------------------------------------------------------
    def _load_weights(self, path: Path, quality: int) -> LoadedGenerative:
        from codecbench.codecs.learned.entropy import categorical_codes

        loaded = self._load_network(path, quality)
        expected = (self.entry.channels_of(quality), self.entry.centres)
        if loaded.probabilities.shape != expected:
            raise ValueError(f"{path}: symbol table of shape {loaded.probabilities.shape}, "
                             f"expected {expected} for {self.name} quality {quality}")
        loaded.coder_tables = self.coder.tables(categorical_codes.cumulative(
            loaded.probabilities))
        return loaded

    def _compress(self, loaded: LoadedGenerative, image: np.ndarray):
        from codecbench.codecs.learned.entropy import categorical_codes

        symbols = self._symbols(loaded.network, padded_batch(image, self.padding_multiple))
        string = self.coder.encode(symbols, categorical_codes.channel_indexes(symbols.shape),
                                   loaded.coder_tables)
        estimate = categorical_codes.estimated_bits(symbols, loaded.probabilities)
        return [Latent(symbols.shape, string)], estimate

    def _expected_latents(self, loaded: LoadedGenerative, file: LearnedFile):
        """One ``C × H/16 × W/16`` grid of symbols (rounded up), ``C`` the rows of the
        rate point's symbol table."""
        multiple = self.padding_multiple
        return [("latent 1 (symbols)", (len(loaded.probabilities), -(-file.height // multiple),
                                        -(-file.width // multiple)))]

    def decode_symbols(self, loaded: LoadedGenerative, latent: Latent) -> np.ndarray:
        """The ``C×h×w`` symbols of a checked latent (values within the alphabet)."""
        from codecbench.codecs.learned.entropy import categorical_codes

        shape = tuple(latent.shape)
        return self.coder.decode(latent.string, categorical_codes.channel_indexes(shape),
                                 loaded.coder_tables, self.entry.centres, "symbol")

    def _decompress(self, loaded: LoadedGenerative, file: LearnedFile) -> np.ndarray:
        symbols = self.decode_symbols(loaded, file.latents[0])  # checked by decode
        return to_image(self._reconstruct(loaded.network, symbols), file.height, file.width)
