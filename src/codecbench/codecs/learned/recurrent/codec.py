"""What the recurrent codecs of both frameworks share: rate points, files, truncation.

A recurrent codec (``torch/toderici2016-lstm``, ``tf/toderici2017-gru``, …) has one network
for every rate point; the rate point ``k`` is the number of iterations coded. Its file is
the learned-codec container (:mod:`codecbench.codecs.learned.container`) with one latent per
iteration — the ``C×h×w`` bits of that iteration, entropy coded with the context model of
:mod:`codecbench.codecs.learned.entropy.binary_codes` (or raw) — so the bitstream is progressive: the
first ``j`` latents are the file of ``j`` iterations (:func:`truncate`), byte for byte.

Subclasses provide the framework: :meth:`RecurrentCodec._run_network` (bits of ``k``
iterations of an image), :meth:`_reconstruct` (image of a list of bit grids) and the
range coder (:meth:`_encode_bits` / :meth:`_decode_bits`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile, parse
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling


@dataclass
class LoadedRecurrent:
    """A loaded network, its context table (``None``: raw bits), its weights id, the range
    coder's tables built from the context table (once, at load) and the iterations to code."""

    network: object
    probabilities: np.ndarray | None
    weights_id: bytes
    coder_tables: object = None
    iterations: int = 0


def decode_progressive(file: LearnedFile, expected: tuple[int, ...], unit: str,
                       decode_grid) -> list[np.ndarray]:
    """The ``C×h×w`` bit grid of every latent of a progressive file, in order:
    ``decode_grid(string, t, previous grid or None)`` decodes latent ``t`` (the context
    model conditions on the previous grid). Refuses a file whose latent count is not its
    quality or whose shapes are not ``expected``; ``unit`` names a latent in the errors
    (``iteration``, ``bitplane``)."""
    if len(file.latents) != file.quality:
        raise ContainerError(f"file says {file.quality} {unit}s but holds "
                             f"{len(file.latents)}")
    grids, previous = [], None
    for t, latent in enumerate(file.latents):
        if tuple(latent.shape) != expected:
            raise ContainerError(f"{unit} {t + 1} has shape {latent.shape}, expected "
                                 f"{expected} for a {file.width}×{file.height} image")
        previous = decode_grid(latent.string, t, previous)
        grids.append(previous)
    return grids


def truncate(data: bytes, iterations: int) -> bytes:
    """The file of the first ``iterations`` iterations of a recurrent codec's file.

    Progressive coding (Toderici et al. 2016): nothing is re-encoded; the result is
    byte-identical to encoding the image with ``iterations`` iterations.
    """
    file = parse(data)
    if not 1 <= iterations <= len(file.latents):
        raise ContainerError(f"cannot truncate a file of {len(file.latents)} iterations to "
                             f"{iterations}")
    return LearnedFile(file.codec, file.weights_id, iterations, file.height, file.width,
                       file.latents[:iterations]).to_bytes()


class RecurrentCodec(LearnedCodec):
    """Progressive encode/decode of a :class:`RecurrentModel` (see the module docstring)."""

    family = Family.RNN.value
    prior = "recurrent"

    def __init__(self, entry: RecurrentModel, framework_prefix: str):
        super().__init__()
        self.entry = entry
        self.name = f"{framework_prefix}/{entry.slug}"
        self.all_qualities = entry.qualities
        coding = ("entropy-coded binary codes" if entry.entropy_coded
                  else f"raw binary codes, {entry.code_channels / 256:g} bpp per iteration")
        self.description = f"{entry.summary} (rate points = iterations; {coding})"
        # 16 rate points of up to 16 recurrent encoder+decoder steps: seconds per photo;
        # select them by name (--codec 'torch/toderici*')
        self.in_default_run = False
        self._loaded: LoadedRecurrent | None = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    # --- what subclasses provide -------------------------------------------------------
    coder_library: str  # the library whose version is the codec's version

    def weights_file(self) -> Path | None:
        """The one weights file of every rate point, or ``None``."""
        raise NotImplementedError

    def _load_network(self) -> LoadedRecurrent:
        raise NotImplementedError

    def _run_network(self, network, batch: np.ndarray, iterations: int) -> list[np.ndarray]:
        """The ±1 codes (NHWC) of each of ``iterations`` iterations of an NHWC batch."""
        raise NotImplementedError

    def _reconstruct(self, network, codes: list[np.ndarray]) -> np.ndarray:
        """The NHWC reconstruction after the last of ``codes`` (±1, NHWC each)."""
        raise NotImplementedError

    def _coder_tables(self, zero_frequencies: np.ndarray):
        """The range coder's tables of the per-context zero frequencies."""
        raise NotImplementedError

    def _encode_bits(self, bits: np.ndarray, indexes: np.ndarray, tables) -> bytes:
        raise NotImplementedError

    def _decode_bits(self, string: bytes, indexes: np.ndarray, tables) -> np.ndarray:
        raise NotImplementedError

    # --- LearnedCodec hooks ------------------------------------------------------------
    def qualities_with_weights(self) -> tuple[int, ...]:
        return self.entry.qualities if self.weights_file() is not None else ()

    def _weights_id(self, quality: int) -> bytes:
        path = self.weights_file()
        if path is None:
            raise FileNotFoundError(f"no weights for {self.name}")
        return weights_format.weights_id(path)

    @property
    def version(self) -> str:
        weights = self._weights_id(1).hex() if self.weights_file() else "none"
        library = self.coder_library
        return f"{library} {self.library_versions()[library]}; weights {weights}"

    def _network(self) -> LoadedRecurrent:
        if self._loaded is None:
            loaded = self._load_network()
            if loaded.probabilities is not None:
                loaded.coder_tables = self._coder_tables(
                    binary_codes.zero_frequencies(loaded.probabilities))
            self._loaded = loaded
        return self._loaded

    def _load(self, quality: int):
        loaded = self._network()
        return replace(loaded, iterations=quality), loaded.weights_id

    def _compress(self, loaded: LoadedRecurrent, image: np.ndarray):
        batch, tiling = recurrent_tiling.network_input(image, self.entry.patch)
        codes = self._run_network(loaded.network, batch, loaded.iterations)
        bits = np.stack([recurrent_tiling.codes_to_grid(binary_codes.to_bits(code), tiling)
                         for code in codes])
        if loaded.probabilities is None:
            strings = [binary_codes.pack(grid) for grid in bits]
            estimate = float(bits.size)
        else:
            indexes = binary_codes.iteration_indexes(bits)
            strings = [self._encode_bits(bits[t], indexes[t], loaded.coder_tables)
                       for t in range(len(bits))]
            estimate = binary_codes.estimated_bits(bits, loaded.probabilities)
        return [Latent(grid.shape, string) for grid, string in zip(bits, strings, strict=True)
                ], estimate

    def _expected_latents(self, loaded: LoadedRecurrent, file: LearnedFile):
        """One ``code_channels × H'/16 × W'/16`` grid per iteration, as many as the
        quality (``H'×W'``: the image padded to 16, or to 32 for patch models)."""
        tiling = recurrent_tiling.Tiling(file.height, file.width, self.entry.patch)
        shape = (self.entry.code_channels, *tiling.code_grid)
        return [(f"iteration {t}", shape) for t in range(1, loaded.iterations + 1)]

    def _decompress(self, loaded: LoadedRecurrent, file: LearnedFile) -> np.ndarray:
        tiling = recurrent_tiling.Tiling(file.height, file.width, self.entry.patch)
        codes = [recurrent_tiling.grid_to_codes(grid.astype(np.float32) * 2 - 1, tiling)
                 for grid in self.decode_bits(loaded, file)]
        return recurrent_tiling.network_output_to_image(
            self._reconstruct(loaded.network, codes), tiling)

    def decode_bits(self, loaded: LoadedRecurrent, file: LearnedFile) -> list[np.ndarray]:
        """The ``C×h×w`` bits of every iteration of a parsed file, checked against its size."""
        tiling = recurrent_tiling.Tiling(file.height, file.width, self.entry.patch)
        expected = (self.entry.code_channels, *tiling.code_grid)
        if loaded.probabilities is None:
            return decode_progressive(file, expected, "iteration",
                                      lambda string, t, previous: binary_codes.unpack(
                                          string, expected))
        return decode_progressive(
            file, expected, "iteration",
            lambda string, t, previous: self._decode_bits(
                string, binary_codes.context_indexes(
                    t, binary_codes.context_states(previous, expected)),
                loaded.coder_tables))

    def truncate(self, data: bytes, iterations: int) -> bytes:
        """See :func:`truncate`."""
        return truncate(data, iterations)
