"""The TensorFlow learned codecs ``tf/<model>`` (imports tensorflow only inside methods).

``tf/bls2017-factorized``, ``tf/bmshj2018-hyperprior``, ``tf/mbt2018-mean`` and
``tf/mbt2018`` (the autoregressive context model, decoded serially: :mod:`.autoregressive`):
the models of :mod:`codecbench.codecs.learned.models` built on tensorflow-compression
(:mod:`.network`, :mod:`.pipeline`). Weights of rate point ``q`` come, first match wins,
from

1. ``<model>-q<q>.tf.safetensors`` in a ``CODECBENCH_TF_WEIGHTS`` folder (written by
   ``codecbench convert`` or ``codecbench train tf/<model>``; carries its coding tables);
2. the torch weights of ``torch/<model>`` (``CODECBENCH_TORCH_WEIGHTS``, then the shipped
   ones), converted at load time — one weights file is the single source of truth;
3. then the same two places for one variable-rate network ``<model>.tf.safetensors`` /
   ``<model>.safetensors`` (gain units, ``codecbench train torch/<model> --variable-rate``),
   whose gains of rate point ``q`` the codec applies.

The weights id in each file is the SHA-256 prefix of whichever file was loaded (of a
variable-rate network: that of the rate point in it, ``weights_format.rate_point_id``). The
transforms run on ``CODECBENCH_TF_DEVICE`` (``cpu`` by default, ``gpu``), range coding on
the CPU.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.codec import check_model_slug, cnn_latents
from codecbench.codecs.learned.container import LearnedFile
from codecbench.codecs.learned.hyperprior.codec import HyperpriorCodec
from codecbench.frameworks.devices import TF_DEVICE_ENV
from codecbench.frameworks.files import WeightsFileError
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np

DEVICE_ENV = TF_DEVICE_ENV
TF_PRIORS = ("factorized", "hyperprior", "mean-scale", "autoregressive")
"""Priors with a TF model (every prior of the family)."""


class TFLearnedCodec(TensorFlowFramework, HyperpriorCodec):
    """``tf/<slug>``: a model of the table, in TensorFlow, on converted or TF weights."""

    library_note = "tensorflow-compression; torch weights converted"
    variable_rate_weights = True

    @property
    def torch_only(self) -> str:
        """Why this model is trained in PyTorch only (and converted), or ``""``."""
        if self.entry.adversarial is not None:
            return "trained adversarially"
        if self.entry.architecture != "gdn":
            return "trained with mixed quantisation and a learned Gaussian-scale mixture"
        return ""

    @property
    def trains_here(self) -> bool:
        """GAN-trained models and the attention architecture are trained in PyTorch and
        converted."""
        return not self.torch_only

    @property
    def device(self) -> str:
        return os.environ.get(DEVICE_ENV, "cpu")

    def _load_weights(self, path: Path, quality: int):
        """``(model, coders, rate point)``: the cached network of ``path`` and, for a
        variable-rate one, the 0-based row of its gains that ``quality`` uses."""
        stat = path.stat()
        model, coders, metadata = _load_weights(str(path), stat.st_size, stat.st_mtime_ns)
        check_model_slug(path, metadata, self.entry.slug)
        if not model.rate_points:
            return model, coders, None
        if model.rate_points != len(self.all_qualities):
            raise WeightsFileError(f"{path} holds gain units for {model.rate_points} rate "
                                   f"points; {self.name} has {len(self.all_qualities)}")
        return model, coders, quality - 1  # the torch twin's GainUnits.select(quality)

    def _compress(self, loaded, image: np.ndarray):
        from codecbench.codecs.learned.hyperprior.tf import pipeline

        model, coders, rate_point = loaded
        x = pipeline.image_to_tensor(image, self.padding_multiple)
        return pipeline.compress(model, coders, x, pipeline.tf_device(self.device), rate_point)

    def _expected_latents(self, loaded, file: LearnedFile) -> list[tuple[str, tuple[int, ...]]]:
        """As the torch twin's (:func:`~codecbench.codecs.learned.codec.cnn_latents`):
        ``y`` with ``M`` channels, ``z`` with ``N``."""
        model = loaded[0]
        return cnn_latents(model.prior, int(model.M), int(model.N), file.height, file.width,
                           self.padding_multiple)

    def _decompress(self, loaded, file: LearnedFile) -> np.ndarray:
        from codecbench.codecs.learned.hyperprior.tf import pipeline

        model, coders, rate_point = loaded
        x_hat = pipeline.decompress(model, coders, file.latents, pipeline.tf_device(self.device),
                                    rate_point)
        return pipeline.tensor_to_image(x_hat, file.height, file.width)

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<model> tf/<model>``: write the TF weights file of
        ``source``'s rate point ``quality`` into ``out_dir`` (tables included); a
        variable-rate source becomes one variable-rate TF file."""
        path = self.torch_twin_weights(source, quality)  # before TensorFlow loads
        from codecbench.codecs.learned.hyperprior.tf import convert

        one_network = weights_format.rate_points(path, weights_format.read_metadata(path)) > 0
        target = Path(out_dir) / weights_locator.weights_filename(
            "tensorflow", self.entry.slug, None if one_network else quality)
        return convert.convert_torch_file(path, target)

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.training`); GAN models
        and the attention architecture (mixed quantisation, a learned mixture) are trained
        in PyTorch and converted."""
        from codecbench.codecs.learned.training_loop import TrainingError

        if self.torch_only:
            raise TrainingError(f"{self.name} is {self.torch_only} in PyTorch: run "
                                f"'codecbench train torch/{self.entry.slug}', then "
                                f"'codecbench convert torch/{self.entry.slug} {self.name}'")
        from codecbench.codecs.learned.hyperprior.tf.training import train

        return train(self.entry, self.name, config)


@functools.lru_cache(maxsize=32)
def _load_weights(path: str, size: int, mtime_ns: int):
    """``(model, coders, metadata)`` of a weights file, once per process and file version
    (building the Keras model and tfc's tables takes seconds)."""
    from codecbench.codecs.learned.hyperprior.tf import convert
    from codecbench.codecs.learned.hyperprior.tf.pipeline import EntropyCoders

    if weights_locator.is_tf_layout(path):
        return convert.load_tf_weights(Path(path))
    model, metadata = convert.model_from_torch_weights(Path(path))
    return model, EntropyCoders(model), metadata


def codecs() -> list[TFLearnedCodec]:
    """The family's TensorFlow twins: every model of the table with a TF prior (the
    distilled HiFiC-OMGD student decoder included)."""
    from codecbench.codecs.learned.models import LEARNED_MODELS

    return [TFLearnedCodec(entry) for entry in LEARNED_MODELS.values()
            if entry.prior in TF_PRIORS]
