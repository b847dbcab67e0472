"""What the recurrent codecs of both frameworks share: rate points, grids, images.

A recurrent codec (``torch/toderici2016-lstm``, ``tf/toderici2017-gru``, …) has one network
for every rate point; the rate point ``k`` is the number of iterations coded, each
iteration one ``C×h×w`` grid of bits of the progressive file
(:mod:`codecbench.codecs.learned.progressive`): entropy coded with the binary context
model (Toderici et al. 2017, §3), or raw (Toderici et al. 2016).

Subclasses provide the framework: :meth:`RecurrentCodec._run_network` (the ±1 codes of
``k`` iterations of an image), :meth:`_reconstruct` (image of a list of codes), the
weights (:meth:`_load_network`) and the index coder.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from codecbench.api.codec import Family
from codecbench.codecs.learned.container import LearnedFile
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.progressive import LoadedProgressive, ProgressiveCodec
from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling

if TYPE_CHECKING:
    import numpy as np


class RecurrentCodec(ProgressiveCodec):
    """Progressive encode/decode of a :class:`RecurrentModel` (see the module docstring)."""

    family = Family.RNN.value
    prior = "recurrent"
    unit = "iteration"
    entry: RecurrentModel

    def __init__(self, entry: RecurrentModel):
        super().__init__(entry)
        coding = ("entropy-coded binary codes" if entry.entropy_coded
                  else f"raw binary codes, {entry.code_channels / 256:g} bpp per iteration")
        self.description = f"{entry.summary} (rate points = iterations; {coding})"
        # 16 rate points of up to 16 recurrent encoder+decoder steps: seconds per photo;
        # select them by name (--codec 'torch/toderici*')
        self.in_default_run = False

    # --- what the framework provides ---------------------------------------------------
    @abc.abstractmethod
    def _run_network(self, network, batch: np.ndarray, iterations: int) -> list[np.ndarray]:
        """The ±1 codes (NHWC) of each of ``iterations`` iterations of an NHWC batch."""

    @abc.abstractmethod
    def _reconstruct(self, network, codes: list[np.ndarray]) -> np.ndarray:
        """The NHWC reconstruction after the last of ``codes`` (±1, NHWC each)."""

    # --- ProgressiveCodec hooks --------------------------------------------------------
    def _tiling(self, file_or_image) -> recurrent_tiling.Tiling:
        height, width = ((file_or_image.height, file_or_image.width)
                         if isinstance(file_or_image, LearnedFile) else file_or_image.shape[:2])
        return recurrent_tiling.Tiling(height, width, self.entry.patch)

    def _grids(self, loaded: LoadedProgressive, image: np.ndarray) -> np.ndarray:
        import numpy as np

        from codecbench.codecs.learned.entropy import binary_codes

        batch, tiling = recurrent_tiling.network_input(image, self.entry.patch)
        codes = self._run_network(loaded.network, batch, loaded.count)
        return np.stack([recurrent_tiling.codes_to_grid(binary_codes.to_bits(code), tiling)
                         for code in codes])

    def _grid_shape(self, loaded: LoadedProgressive, file: LearnedFile) -> tuple[int, ...]:
        """``code_channels × H'/16 × W'/16`` (``H'×W'``: the image padded to 16, or to 32
        for patch models)."""
        return (self.entry.code_channels, *self._tiling(file).code_grid)

    def _image(self, loaded: LoadedProgressive, grids: list[np.ndarray],
               file: LearnedFile) -> np.ndarray:
        import numpy as np

        tiling = self._tiling(file)
        codes = [recurrent_tiling.grid_to_codes(grid.astype(np.float32) * 2 - 1, tiling)
                 for grid in grids]
        return recurrent_tiling.network_output_to_image(
            self._reconstruct(loaded.network, codes), tiling)
