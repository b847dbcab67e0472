"""What the GC codecs (``torch/agustsson2019-gc``, ``tf/agustsson2019-gc``) share.

Agustsson et al. (2019) global generative compression: the encoder maps the image
(edge-padded to a multiple of 16) to ``C×H/16×W/16`` symbols in ``[0, L)``; the file is
the learned-codec container with one latent, the symbols range coded with the
per-channel probability table of :mod:`codecbench.codecs.learned.entropy.categorical_codes` (its
``bpp-estimate`` is ``Σ −log2 P``); decoding runs the generator on the symbols' centres
and crops the padding. One network per rate point ``q`` (``C`` of the table).

Subclasses provide the framework: :meth:`GenerativeCodec._symbols`,
:meth:`_reconstruct`, the weights (:meth:`_load_network`) and the library coder
(:meth:`_encode_symbols`, :meth:`_decode_symbols`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.models import GenerativeModel


@dataclass
class LoadedGenerative:
    """A loaded network with its symbol table and the coder's tables built from it."""

    network: object
    probabilities: np.ndarray
    coder_tables: object = None


def padded_batch(image: np.ndarray, multiple: int) -> np.ndarray:
    """``1×H'×W'×3`` float32 in [0, 1], edge-padded to multiples of ``multiple``."""
    height, width = image.shape[:2]
    pad = ((0, -height % multiple), (0, -width % multiple), (0, 0))
    return (np.pad(image, pad, mode="edge").astype(np.float32) / 255.0)[None]


def to_image(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """The inverse of :func:`padded_batch` (rounded, clipped, cropped)."""
    return np.clip(np.round(batch[0, :height, :width] * 255.0), 0, 255).astype(np.uint8)


class GenerativeCodec(LearnedCodec):
    """A GC model of the table on our weights; see the module docstring."""

    family = Family.GAN.value
    prior = "categorical"
    coder_library: str  # the library whose version is the codec's version (set by the framework mixin)

    def __init__(self, entry: GenerativeModel, framework_prefix: str):
        super().__init__()
        self.entry = entry
        self.name = f"{framework_prefix}/{entry.slug}"
        self.all_qualities = entry.qualities
        channels = ", ".join(f"q{q}: C={c}" for q, c in zip(entry.qualities, entry.channels,
                                                           strict=True))
        self.description = (f"{entry.summary} (rate points = bottleneck channels: {channels}; "
                            "symbols range coded)")
        self.in_default_run = False  # the GAN family is selected by name

    # --- what subclasses provide -------------------------------------------------------
    def weights_file(self, quality: int) -> Path | None:
        raise NotImplementedError

    def _load_network(self, path: Path) -> LoadedGenerative:
        raise NotImplementedError

    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        """``C×h×w`` int symbols of an NHWC batch of one image."""
        raise NotImplementedError

    def _reconstruct(self, network, symbols: np.ndarray) -> np.ndarray:
        """The NHWC image in [0, 1] of ``C×h×w`` symbols."""
        raise NotImplementedError

    def _coder_tables(self, probabilities: np.ndarray):
        raise NotImplementedError

    def _encode_symbols(self, symbols: np.ndarray, tables) -> bytes:
        raise NotImplementedError

    def _decode_symbols(self, string: bytes, shape: tuple[int, ...], tables) -> np.ndarray:
        raise NotImplementedError

    # --- LearnedCodec hooks ------------------------------------------------------------
    def qualities_with_weights(self) -> tuple[int, ...]:
        return tuple(q for q in self.entry.qualities if self.weights_file(q) is not None)

    def _existing_weights(self, quality: int) -> Path:
        path = self.weights_file(quality)
        if path is None:
            raise FileNotFoundError(f"no weights for {self.name} quality {quality}")
        return path

    def _weights_id(self, quality: int) -> bytes:
        return weights_format.weights_id(self._existing_weights(quality))

    @property
    def version(self) -> str:
        ids = ",".join(f"q{q}:{self._weights_id(q).hex()}" for q in self.qualities_with_weights())
        library = self.coder_library
        return f"{library} {self.library_versions()[library]}; weights {ids or 'none'}"

    def _load(self, quality: int):
        path = self._existing_weights(quality)
        loaded = self._load_network(path)
        expected = (self.entry.channels_of(quality), self.entry.centres)
        if loaded.probabilities.shape != expected:
            raise ValueError(f"{path}: symbol table of shape {loaded.probabilities.shape}, "
                             f"expected {expected} for {self.name} quality {quality}")
        loaded.coder_tables = self._coder_tables(loaded.probabilities)
        return loaded, weights_format.weights_id(path)

    def _compress(self, loaded: LoadedGenerative, image: np.ndarray):
        symbols = self._symbols(loaded.network,
                                padded_batch(image, self.entry.padding_multiple))
        string = self._encode_symbols(symbols, loaded.coder_tables)
        estimate = categorical_codes.estimated_bits(symbols, loaded.probabilities)
        return [Latent(symbols.shape, string)], estimate

    def _expected_latents(self, loaded: LoadedGenerative, file: LearnedFile):
        """One ``C × H/16 × W/16`` grid of symbols (rounded up), ``C`` the rows of the
        rate point's symbol table."""
        multiple = self.entry.padding_multiple
        return [("latent 1 (symbols)", (len(loaded.probabilities), -(-file.height // multiple),
                                        -(-file.width // multiple)))]

    def _decompress(self, loaded: LoadedGenerative, file: LearnedFile) -> np.ndarray:
        shape = tuple(file.latents[0].shape)  # checked by decode (_expected_latents)
        symbols = self._decode_symbols(file.latents[0].string, shape, loaded.coder_tables)
        if symbols.min(initial=0) < 0 or symbols.max(initial=0) >= self.entry.centres:
            raise ContainerError("corrupt symbol string: values outside the alphabet")
        return to_image(self._reconstruct(loaded.network, symbols), file.height, file.width)
