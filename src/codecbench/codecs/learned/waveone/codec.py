"""What the WaveOne codecs of both frameworks share (Rippel & Bourdev 2017, "Real-time
adaptive image compression").

The rate point ``k`` is the number of bitplanes coded (1–``B``, most significant first):
the analysis maps the image (edge-padded to a multiple of 8) to ``C × H/8 × W/8`` codes
``y ∈ (0, 1)``, quantised to ``q = min(⌊2^B·y⌋, 2^B − 1)`` and split into ``B`` binary
planes (:mod:`.bitplanes`); the progressive file (:mod:`codecbench.codecs.learned.progressive`)
holds the first ``k`` planes, each range coded under the binary context model (plane
``t`` conditioned on plane ``t − 1`` at the position and its 8 neighbours), so a
``B``-plane file truncated to ``k`` planes is the ``k``-plane file byte for byte. The
decoder fills the missing low bits with the middle of their interval and runs the
synthesis.

Subclasses provide the framework: :meth:`WaveOneCodec._analysis`, :meth:`_synthesis`,
the weights (:meth:`_load_network`) and the index coder.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from codecbench.api.codec import Family
from codecbench.codecs.learned.container import LearnedFile
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.progressive import LoadedProgressive, ProgressiveCodec

if TYPE_CHECKING:
    import numpy as np


class WaveOneCodec(ProgressiveCodec):
    """WaveOne on our weights; see the module docstring."""

    family = Family.GAN.value
    prior = "bitplanes"
    unit = "bitplane"
    entry: WaveOneModel

    def __init__(self, entry: WaveOneModel):
        super().__init__(entry)
        self.description = (f"{entry.summary} (rate points = bitplanes 1–{entry.bitplanes}; "
                            "progressive files)")
        self.in_default_run = False  # the GAN family is selected by name

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        """``C × h × w`` codes in (0, 1) of an NHWC batch of one image in [0, 1]."""

    @abc.abstractmethod
    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        """The NHWC image in [0, 1] of ``C × h × w`` decoded codes."""

    # --- ProgressiveCodec hooks --------------------------------------------------------
    def _grids(self, loaded: LoadedProgressive, image: np.ndarray) -> np.ndarray:
        from codecbench.codecs.learned.waveone import bitplanes

        y = self._analysis(loaded.network, padded_batch(image, self.padding_multiple))
        q = bitplanes.quantise(y, self.entry.bitplanes)
        return bitplanes.to_planes(q, self.entry.bitplanes)[:loaded.count]

    def _grid_shape(self, loaded: LoadedProgressive, file: LearnedFile) -> tuple[int, ...]:
        """``C × H/8 × W/8`` (rounded up), ``C`` the channels of the context table."""
        assert loaded.probabilities is not None  # WaveOne always entropy codes its planes
        multiple = self.padding_multiple
        return (len(loaded.probabilities[0]), -(-file.height // multiple),
                -(-file.width // multiple))

    def _image(self, loaded: LoadedProgressive, grids: list[np.ndarray],
               file: LearnedFile) -> np.ndarray:
        import numpy as np

        from codecbench.codecs.learned.waveone import bitplanes

        y_hat = bitplanes.from_planes(np.stack(grids), self.entry.bitplanes)
        return to_image(self._synthesis(loaded.network, y_hat), file.height, file.width)
