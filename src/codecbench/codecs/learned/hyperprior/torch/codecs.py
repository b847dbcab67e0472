"""The torch learned codecs: ``torch/<model>`` (our weights) and ``compressai/<zoo>``.

Both wrap a CompressAI model (Ballé 2017 factorized prior, Ballé 2018 scale hyperprior,
Minnen 2018 mean-scale and autoregressive priors, Cheng 2020) in the codec contract:

* ``encode`` pads the image, runs CompressAI's ``compress`` (rANS) and writes the
  strings into the container (:class:`~codecbench.codecs.learned.codec.SingleShotCodec`);
* ``decode`` reads only those bytes and runs CompressAI's ``decompress``.

The transforms run on ``CODECBENCH_TORCH_DEVICE`` (default ``cpu``); see
:mod:`codecbench.codecs.learned.hyperprior.torch.pipeline` for why files stay portable across devices.
This module imports torch only inside methods, when a codec is used.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from codecbench.codecs.learned.codec import LearnedCodec, check_model_slug, cnn_latents
from codecbench.codecs.learned.container import Latent, LearnedFile
from codecbench.codecs.learned.hyperprior.codec import HyperpriorCodec
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io
from codecbench.codecs.learned.models import COMPRESSAI_ZOO
from codecbench.frameworks.devices import TORCH_DEVICE_ENV
from codecbench.frameworks.files import WeightsFileError
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

DEVICE_ENV = TORCH_DEVICE_ENV
ZOO_WEIGHTS_ENV = "CODECBENCH_COMPRESSAI_WEIGHTS"
ZOO_DOWNLOAD_ENV = "CODECBENCH_COMPRESSAI_DOWNLOAD"


class CompressAICodec(TorchFramework, LearnedCodec):
    """Encode/decode of every codec built on a CompressAI model (see :class:`LearnedCodec`).

    The transforms run on ``CODECBENCH_TORCH_DEVICE``; entropy coding is CompressAI's
    ``compress``/``decompress`` (:mod:`codecbench.codecs.learned.hyperprior.torch.pipeline`).
    """

    @property
    def device(self) -> str:
        return os.environ.get(DEVICE_ENV, "cpu")

    def _model(self, quality: int):
        if quality not in self._models:
            from codecbench.codecs.learned.hyperprior.torch.pipeline import place_transforms

            model, weights_id = self._load(quality)
            self._models[quality] = (place_transforms(cast("nn.Module", model), self.device),
                                     weights_id)
        return self._models[quality]

    def _compress(self, model, image: np.ndarray):
        from codecbench.codecs.learned.hyperprior.torch import pipeline

        x = pipeline.image_to_tensor(image, self.padding_multiple)
        compressed = pipeline.compress(model, self.prior, x)
        latents = [Latent(shape, string)
                   for shape, string in zip(compressed.shapes, compressed.strings, strict=True)]
        return latents, compressed.estimated_bits

    def _expected_latents(self, model, file: LearnedFile) -> list[tuple[str, tuple[int, ...]]]:
        """``y`` (``M × H'/16 × W'/16``) and, with a hyperprior, ``z`` (its entropy
        bottleneck's channels × ``H'/64 × W'/64``), ``H'×W'`` the image padded to 64."""
        return cnn_latents(self.prior, int(model.M), int(model.entropy_bottleneck.channels),
                           file.height, file.width, self.padding_multiple)

    def _decompress(self, model, file: LearnedFile) -> np.ndarray:
        from codecbench.codecs.learned.hyperprior.torch import pipeline

        x_hat = pipeline.decompress(model, [latent.string for latent in file.latents],
                                    [latent.shape for latent in file.latents])
        return pipeline.tensor_to_image(x_hat, file.height, file.width)


class TorchLearnedCodec(CompressAICodec, HyperpriorCodec):
    """A model of the table in :mod:`codecbench.codecs.learned.models`, with our weights.

    Rate points are the table's qualities (1 = lowest rate) that have a weights file
    (shipped in ``codecbench-models``, or in ``CODECBENCH_TORCH_WEIGHTS``).
    """

    library_note = "CompressAI, rate points = λ of the model table"
    variable_rate_weights = True

    def _load_weights(self, path: Path, quality: int):
        from codecbench.codecs.learned.hyperprior.torch.gains import gain_units

        model, metadata = weights_io.load_model(path)
        check_model_slug(path, metadata, self.entry.slug)
        units = gain_units(model)
        if units is not None:  # one variable-rate network: the rate point's gains
            if units.rate_points != len(self.all_qualities):
                raise WeightsFileError(
                    f"{path} holds gain units for {units.rate_points} rate points; "
                    f"{self.name} has {len(self.all_qualities)}")
            units.select(quality)
        return model

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.training`, and
        :mod:`.gan_training` for the GAN family)."""
        if self.entry.adversarial is not None:
            from codecbench.codecs.learned.hyperprior.torch.adversarial_training import train
        else:
            from codecbench.codecs.learned.hyperprior.torch.training import train

        return train(self.entry, self.name, config)


class CompressAIZooCodec(CompressAICodec):
    """``compressai/<name>``: an architecture of CompressAI's zoo, on weights you provide.

    Weights come, in order, from ``$CODECBENCH_COMPRESSAI_WEIGHTS/<name>-<q>.pth.tar``
    (or ``.pth``, ``.safetensors``; a ``state_dict`` or a checkpoint holding one, loaded
    with ``weights_only=True``), then — when ``CODECBENCH_COMPRESSAI_DOWNLOAD=1`` — from
    CompressAI's pretrained download (``pretrained=True``, cached by torch.hub). Without
    either the codec is listed as unavailable with that reason. The weights id in each
    file is the SHA-256 of the tensors' bytes.
    """

    SUFFIXES = (".pth.tar", ".pth", ".safetensors")

    def __init__(self, zoo_name: str):
        super().__init__()
        self.zoo_name = zoo_name
        self.name = f"compressai/{zoo_name}"
        self.prior, self.all_qualities = COMPRESSAI_ZOO[zoo_name]
        self.in_default_run = False  # runs on weights the user provides: select it by name
        self.description = f"CompressAI zoo {zoo_name} (your checkpoint or CompressAI's download)"

    @property
    def weights_env(self) -> str:
        return ZOO_WEIGHTS_ENV

    @property
    def no_weights_reason(self) -> str:
        return (f"no weights: put {self.zoo_name}-<quality>.pth.tar files in "
                f"${ZOO_WEIGHTS_ENV}, or set {ZOO_DOWNLOAD_ENV}=1 to let CompressAI download "
                "its pretrained weights (needs internet)")

    def _user_file(self, quality: int) -> Path | None:
        folder = os.environ.get(ZOO_WEIGHTS_ENV)
        if not folder:
            return None
        for suffix in self.SUFFIXES:
            candidate = Path(folder) / f"{self.zoo_name}-{quality}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def _download_allowed(self) -> bool:
        return os.environ.get(ZOO_DOWNLOAD_ENV, "") == "1"

    def qualities_with_weights(self) -> tuple[int, ...]:
        if self._download_allowed():
            return self.all_qualities
        return tuple(q for q in self.all_qualities if self._user_file(q) is not None)

    def _weights_id(self, quality: int) -> bytes:
        return self._model(quality)[1]  # a digest of the loaded tensors

    def architecture(self, quality: int):
        """A fresh (untrained) model of this zoo architecture at ``quality``."""
        from compressai.zoo import image as zoo_image

        classes = zoo_image.model_architectures
        cls = classes.get(self.zoo_name) or classes[self.zoo_name.replace("-", "_")]
        return cls(*zoo_image.cfgs[self.zoo_name][quality])

    def _load(self, quality: int):
        from compressai.zoo import image_models, load_state_dict

        path = self._user_file(quality)
        if path is not None:
            state: object  # a state dict, or whatever the checkpoint file holds
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                from codecbench.frameworks.torch_runtime import torch_load

                state = torch_load(path)
                state = state.get("state_dict", state) if isinstance(state, dict) else state
            model = self.architecture(quality)
            model.load_state_dict(load_state_dict(state))
        elif self._download_allowed():
            model = image_models[self.zoo_name](quality=quality, metric="mse", pretrained=True)
        else:
            raise FileNotFoundError(self.availability()[1])
        model.update()  # computes CDFs only if the weights did not bring them
        model.eval()
        return model, _tensor_digest(model.state_dict())[:8]


def _tensor_digest(state: dict) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()


def codecs() -> list[CompressAICodec]:
    """The family's PyTorch codecs: one per model of the table (our weights), and one per
    CompressAI zoo architecture (weights the user provides)."""
    from codecbench.codecs.learned.models import LEARNED_MODELS

    ours: list[CompressAICodec] = [TorchLearnedCodec(entry) for entry in LEARNED_MODELS.values()]
    return ours + [CompressAIZooCodec(zoo_name) for zoo_name in COMPRESSAI_ZOO]
