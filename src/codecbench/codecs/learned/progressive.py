"""Progressive learned codecs: one network for every rate point, files that truncate.

A progressive codec (the recurrent codecs of Toderici et al. 2016/2017 and Johnston et
al. 2018, WaveOne's bitplanes, Rippel & Bourdev 2017) codes an image as a sequence of
binary grids ``b_1, b_2, …`` (``C×h×w`` bits each: one iteration, or one bitplane); rate
point ``k`` keeps the first ``k``. Its file is the learned-codec container with one latent
per grid, so the first ``j`` latents of a file are the file of rate point ``j`` byte for
byte (:func:`truncate`).

Each grid is either stored raw (``np.packbits``, Toderici 2016) or entropy coded with the
binary context model of :mod:`codecbench.codecs.learned.entropy.binary_codes` — bit
``b_t(c, i, j)`` coded with ``P[t, c, s]``, its context ``s`` read off ``b_{t−1}`` — by the
framework's index coder (:mod:`codecbench.codecs.learned.entropy.index_coder`); the
estimate is ``Σ −log2 p(b)``.

A family supplies :meth:`ProgressiveCodec._load_network` (the network and its context
table), :meth:`_grids` (the bits of an image), :meth:`_grid_shape` and :meth:`_image`
(the image of decoded grids), and its framework's :attr:`coder`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile, parse
from codecbench.codecs.learned.entropy.index_coder import IndexCoder, binary_cumulative

if TYPE_CHECKING:
    import numpy as np


@dataclass
class LoadedProgressive:
    """A loaded network, its binary context table (``None``: raw bits), its weights id,
    the coder's tables built from the context table (once, at load) and the number of
    grids a rate point codes."""

    network: object
    probabilities: np.ndarray | None
    weights_id: bytes
    coder_tables: object = None
    count: int = 0


def truncate(data: bytes, count: int, unit: str = "latent") -> bytes:
    """The file of the first ``count`` grids of a progressive codec's file.

    Nothing is re-encoded; the result is byte-identical to encoding the image at rate
    point ``count`` (Toderici et al. 2016's progressive property).
    """
    file = parse(data)
    if not 1 <= count <= len(file.latents):
        raise ContainerError(f"cannot truncate a file of {len(file.latents)} {unit}s to "
                             f"{count}")
    return LearnedFile(file.codec, file.weights_id, count, file.height, file.width,
                       file.latents[:count]).to_bytes()


class ProgressiveCodec(LearnedCodec):
    """Encode/decode of a progressive model (see the module docstring)."""

    one_network_for_all_rates = True
    unit: ClassVar[str] = "latent"
    """What one grid is called in file errors (``iteration``, ``bitplane``)."""
    coder: IndexCoder
    """The framework's index coder (set by the framework subclass)."""

    def __init__(self, entry):
        super().__init__(entry)
        self._loaded: LoadedProgressive | None = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    # --- what families provide ---------------------------------------------------------
    @abc.abstractmethod
    def _load_network(self, path: Path) -> tuple[object, np.ndarray | None]:
        """``(network, binary context table or None)`` of the weights file ``path``."""

    @abc.abstractmethod
    def _grids(self, loaded: LoadedProgressive, image: np.ndarray) -> np.ndarray:
        """The ``count × C × h × w`` bits (uint8) of ``image``'s first ``loaded.count`` grids."""

    @abc.abstractmethod
    def _grid_shape(self, loaded: LoadedProgressive, file: LearnedFile) -> tuple[int, ...]:
        """``C × h × w`` of one grid for an image of the file's size."""

    @abc.abstractmethod
    def _image(self, loaded: LoadedProgressive, grids: list[np.ndarray],
               file: LearnedFile) -> np.ndarray:
        """The ``H×W×3`` uint8 image of the decoded grids of a file."""

    # --- shared ------------------------------------------------------------------------
    def _network(self) -> LoadedProgressive:
        """The network of every rate point, loaded once per process."""
        from codecbench.codecs.learned.entropy import binary_codes

        if self._loaded is None:
            path = self._existing_weights(1)
            network, probabilities = self._load_network(path)
            tables = (None if probabilities is None else self.coder.tables(
                binary_cumulative(binary_codes.zero_frequencies(probabilities))))
            self._loaded = LoadedProgressive(network, probabilities,
                                             weights_format.weights_id(path), tables)
        return self._loaded

    def _load(self, quality: int):
        loaded = self._network()
        return replace(loaded, count=quality), loaded.weights_id

    def _compress(self, loaded: LoadedProgressive, image: np.ndarray):
        from codecbench.codecs.learned.entropy import binary_codes

        bits = self._grids(loaded, image)
        if loaded.probabilities is None:
            strings = [binary_codes.pack(grid) for grid in bits]
            estimate = float(bits.size)
        else:
            indexes = binary_codes.iteration_indexes(bits)
            strings = [self.coder.encode(bits[t], indexes[t], loaded.coder_tables)
                       for t in range(len(bits))]
            estimate = binary_codes.estimated_bits(bits, loaded.probabilities)
        return [Latent(grid.shape, string) for grid, string in zip(bits, strings, strict=True)
                ], estimate

    def _expected_latents(self, loaded: LoadedProgressive, file: LearnedFile):
        """One grid per coded latent, as many as the quality."""
        shape = self._grid_shape(loaded, file)
        return [(f"{self.unit} {t}", shape) for t in range(1, loaded.count + 1)]

    def decode_grids(self, loaded: LoadedProgressive, file: LearnedFile) -> list[np.ndarray]:
        """The ``C×h×w`` bits of every latent of a parsed file, in order; refuses a file
        whose latent count is not its quality or whose shapes are not the model's."""
        import numpy as np

        from codecbench.codecs.learned.entropy import binary_codes

        expected = self._grid_shape(loaded, file)
        if len(file.latents) != file.quality:
            raise ContainerError(f"file says {file.quality} {self.unit}s but holds "
                                 f"{len(file.latents)}")
        grids: list[np.ndarray] = []
        previous = None
        for t, latent in enumerate(file.latents):
            if tuple(latent.shape) != expected:
                raise ContainerError(f"{self.unit} {t + 1} has shape {latent.shape}, expected "
                                     f"{expected} for a {file.width}×{file.height} image")
            if loaded.probabilities is None:
                previous = binary_codes.unpack(latent.string, expected)
            else:
                indexes = binary_codes.context_indexes(
                    t, binary_codes.context_states(previous, expected))
                previous = self.coder.decode(latent.string, indexes, loaded.coder_tables, 2,
                                             "code").astype(np.uint8)
            grids.append(previous)
        return grids

    def _decompress(self, loaded: LoadedProgressive, file: LearnedFile) -> np.ndarray:
        return self._image(loaded, self.decode_grids(loaded, file), file)

    def truncate(self, data: bytes, count: int) -> bytes:
        """See :func:`truncate`."""
        return truncate(data, count, self.unit)
