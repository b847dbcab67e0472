"""``torch/rippel2017-waveone``: WaveOne (:mod:`.waveone`) as a progressive codec.

The rate point ``k`` is the number of bitplanes coded (1–6, most significant first). The
file is the learned-codec container with one latent per plane — the ``C × H/8 × W/8``
bits of that plane, range coded with CompressAI's rANS under the binary context model of
:mod:`codecbench.codecs.learned.entropy.binary_codes` (plane ``t`` conditioned on plane ``t − 1`` at the
position and its 8 neighbours; table counted on training crops at export). So, as for the
recurrent codecs, :func:`codecbench.codecs.learned.recurrent.codec.truncate` of a ``B``-plane
file is the ``k``-plane file byte for byte. The image is edge-padded to a multiple of 8.

Weights: ``rippel2017-waveone.safetensors`` (kind ``waveone``; the network plus
``context.probabilities``), looked up like every torch weights file. Imports torch only
when used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.container import Latent, LearnedFile
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.generative.codec import padded_batch, to_image
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.recurrent.codec import decode_progressive
from codecbench.codecs.learned.recurrent.torch.codecs import (
    rans_decode_bits,
    rans_encode_bits,
    rans_tables,
)
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.waveone import bitplanes
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    from codecbench.codecs.learned.waveone.torch.network import WaveOne

CONTEXT_KEY = "context.probabilities"
KIND = "waveone"


def read_waveone(path: Path, entry: WaveOneModel):
    """``(network in eval mode, context probabilities, metadata)`` of a weights file."""
    import torch

    from codecbench.codecs.learned.waveone.torch.network import WaveOne

    arrays, metadata = weights_format.read_tensors(path, KIND)
    if metadata.get("model") != entry.slug:
        raise ValueError(f"{path} holds weights of {metadata.get('model')!r}, "
                         f"not {entry.slug!r}")
    probabilities = arrays.pop(CONTEXT_KEY)
    network = WaveOne(entry, int(metadata["width"]), int(metadata["code_channels"]))
    network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    return network.eval(), probabilities, metadata


def save_waveone(network, probabilities, path: Path, metadata: dict[str, str],
                 half_kernels: bool = False) -> None:
    import torch

    state = dict(network.state_dict())
    state[CONTEXT_KEY] = torch.as_tensor(probabilities, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": KIND, "width": str(network.width),
        "code_channels": str(network.code_channels), **metadata}, half_kernels)


@dataclass
class LoadedWaveOne:
    network: WaveOne
    probabilities: np.ndarray
    coder_tables: object
    planes: int = 0


class TorchWaveOneCodec(TorchFramework, LearnedCodec):
    """WaveOne on our weights; see the module docstring."""

    family = Family.GAN.value
    prior = "bitplanes"

    def __init__(self, entry: WaveOneModel):
        super().__init__()
        self.entry = entry
        self.name = f"torch/{entry.slug}"
        self.all_qualities = entry.qualities
        self.no_weights_reason = weights_locator.no_weights_hint(
            "torch", f"codecbench train {self.name}")
        self.description = (f"{entry.summary} (rate points = bitplanes 1–{entry.bitplanes}; "
                            "progressive files)")
        self.in_default_run = False  # the GAN family is selected by name
        self._loaded: LoadedWaveOne | None = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_loaded"] = None
        return state

    def weights_file(self) -> Path | None:
        return weights_locator.find_weights("torch", self.entry.slug)

    def qualities_with_weights(self) -> tuple[int, ...]:
        return self.entry.qualities if self.weights_file() is not None else ()

    def _weights_id(self, quality: int) -> bytes:
        path = self.weights_file()
        if path is None:
            raise FileNotFoundError(self.no_weights_reason)
        return weights_format.weights_id(path)

    @property
    def version(self) -> str:
        weights = self._weights_id(1).hex() if self.weights_file() else "none"
        return f"compressai {self.library_versions()['compressai']}; weights {weights}"

    def _load(self, quality: int):
        if self._loaded is None:
            path = self.weights_file()
            if path is None:
                raise FileNotFoundError(self.no_weights_reason)
            network, probabilities, _ = read_waveone(path, self.entry)
            self._loaded = LoadedWaveOne(network, probabilities, rans_tables(
                binary_codes.zero_frequencies(probabilities)))
        loaded = self._loaded
        return (LoadedWaveOne(loaded.network, loaded.probabilities, loaded.coder_tables,
                              quality), self._weights_id(quality))

    def _compress(self, loaded: LoadedWaveOne, image: np.ndarray):
        import torch

        batch = padded_batch(image, self.entry.padding_multiple)
        with torch.no_grad():
            y = loaded.network.analysis(torch.from_numpy(batch).permute(0, 3, 1, 2))
        q = bitplanes.quantise(y[0].numpy(), self.entry.bitplanes)
        planes = bitplanes.to_planes(q, self.entry.bitplanes)[:loaded.planes]
        indexes = binary_codes.iteration_indexes(planes)
        strings = [rans_encode_bits(planes[t], indexes[t], loaded.coder_tables)
                   for t in range(len(planes))]
        estimate = binary_codes.estimated_bits(planes, loaded.probabilities)
        return [Latent(plane.shape, string) for plane, string in zip(planes, strings,
                                                                     strict=True)], estimate

    def _plane_shape(self, loaded: LoadedWaveOne, file: LearnedFile) -> tuple[int, int, int]:
        """``C × H/8 × W/8`` (rounded up), ``C`` the channels of the context table."""
        multiple = self.entry.padding_multiple
        return (len(loaded.probabilities[0]), -(-file.height // multiple),
                -(-file.width // multiple))

    def _expected_latents(self, loaded: LoadedWaveOne, file: LearnedFile):
        """One plane per bitplane of the quality, most significant first."""
        shape = self._plane_shape(loaded, file)
        return [(f"bitplane {t}", shape) for t in range(1, loaded.planes + 1)]

    def decode_planes(self, loaded: LoadedWaveOne, file: LearnedFile) -> np.ndarray:
        """The ``k × C × h × w`` bitplanes of a parsed file, checked against its size."""
        expected = self._plane_shape(loaded, file)
        planes = decode_progressive(
            file, expected, "bitplane",
            lambda string, t, previous: rans_decode_bits(
                string, binary_codes.context_indexes(
                    t, binary_codes.context_states(previous, expected)),
                loaded.coder_tables))
        return np.stack(planes)

    def _decompress(self, loaded: LoadedWaveOne, file: LearnedFile) -> np.ndarray:
        import torch

        y_hat = bitplanes.from_planes(self.decode_planes(loaded, file), self.entry.bitplanes)
        with torch.no_grad():
            x_hat = loaded.network.synthesis(torch.from_numpy(y_hat)[None])
        return to_image(x_hat.permute(0, 2, 3, 1).numpy(), file.height, file.width)

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.waveone_training`)."""
        from codecbench.codecs.learned.waveone.torch.training import train

        return train(self.entry, self.name, config)
