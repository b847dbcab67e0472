"""``torch/rippel2017-waveone``: WaveOne (:mod:`.network`) as a progressive codec.

The rate point ``k`` is the number of bitplanes coded (1–6, most significant first). The
file is the progressive container of :mod:`codecbench.codecs.learned.progressive` with one
latent per plane — the ``C × H/8 × W/8`` bits of that plane, range coded with CompressAI's
rANS under the binary context model of :mod:`codecbench.codecs.learned.entropy.binary_codes`
(plane ``t`` conditioned on plane ``t − 1`` at the position and its 8 neighbours; table
counted on training crops at export). So :func:`~codecbench.codecs.learned.progressive.truncate`
of a ``B``-plane file is the ``k``-plane file byte for byte. The image is edge-padded to a
multiple of 8.

Weights: ``rippel2017-waveone.safetensors`` (kind ``waveone``; the network plus
``context.probabilities``), looked up like every torch weights file. Imports torch only
when used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.api.codec import Family
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.container import LearnedFile
from codecbench.codecs.learned.image_batches import padded_batch, to_image
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.progressive import LoadedProgressive, ProgressiveCodec
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.codecs.learned.waveone import bitplanes
from codecbench.frameworks.torch_runtime import TorchFramework

CONTEXT_KEY = "context.probabilities"
KIND = "waveone"


def read_waveone(path: Path, entry: WaveOneModel):
    """``(network in eval mode, context probabilities, metadata)`` of a weights file."""
    import torch

    from codecbench.codecs.learned.waveone.torch.network import WaveOne

    arrays, metadata = weights_format.read_tensors(path, KIND)
    check_model_slug(path, metadata, entry.slug)
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


class TorchWaveOneCodec(TorchFramework, ProgressiveCodec):
    """WaveOne on our weights; see the module docstring."""

    family = Family.GAN.value
    prior = "bitplanes"
    unit = "bitplane"
    coder = RansIndexCoder()
    entry: WaveOneModel

    def __init__(self, entry: WaveOneModel):
        super().__init__(entry)
        self.description = (f"{entry.summary} (rate points = bitplanes 1–{entry.bitplanes}; "
                            "progressive files)")
        self.in_default_run = False  # the GAN family is selected by name

    def _load_network(self, path: Path):
        network, probabilities, _ = read_waveone(path, self.entry)
        return network, probabilities

    def _grids(self, loaded: LoadedProgressive, image: np.ndarray) -> np.ndarray:
        import torch

        batch = padded_batch(image, self.padding_multiple)
        with torch.no_grad():
            y = loaded.network.analysis(  # type: ignore[attr-defined]  # a WaveOne network
                torch.from_numpy(batch).permute(0, 3, 1, 2))
        q = bitplanes.quantise(y[0].numpy(), self.entry.bitplanes)
        return bitplanes.to_planes(q, self.entry.bitplanes)[:loaded.count]

    def _grid_shape(self, loaded: LoadedProgressive, file: LearnedFile) -> tuple[int, ...]:
        """``C × H/8 × W/8`` (rounded up), ``C`` the channels of the context table."""
        assert loaded.probabilities is not None  # WaveOne always entropy codes its planes
        multiple = self.padding_multiple
        return (len(loaded.probabilities[0]), -(-file.height // multiple),
                -(-file.width // multiple))

    def _image(self, loaded: LoadedProgressive, grids: list[np.ndarray],
               file: LearnedFile) -> np.ndarray:
        import torch

        y_hat = bitplanes.from_planes(np.stack(grids), self.entry.bitplanes)
        with torch.no_grad():
            x_hat = loaded.network.synthesis(  # type: ignore[attr-defined]  # a WaveOne network
                torch.from_numpy(y_hat)[None])
        return to_image(x_hat.permute(0, 2, 3, 1).numpy(), file.height, file.width)

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.waveone.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchWaveOneCodec]:
    """The family's PyTorch codec, one per WaveOne model of the table."""
    from codecbench.codecs.learned.models import WAVEONE_MODELS

    return [TorchWaveOneCodec(entry) for entry in WAVEONE_MODELS.values()]
