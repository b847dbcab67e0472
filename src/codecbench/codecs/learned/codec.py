"""What every learned codec (``torch/…``, ``tf/…``, ``compressai/…``) does the same way.

A learned codec holds one trained model per rate point ("quality"). ``encode`` runs the
framework's analysis transform and entropy coder and writes the strings into the
container of :mod:`codecbench.codecs.learned.container`; ``decode`` reads nothing but
those bytes and trusts none of them: it refuses a file written by another codec, for a
rate point the codec does not have or with other weights, then checks the count and the
shape of every latent against what the model codes for an image of the header's size
(:meth:`LearnedCodec._expected_latents`), and only then decodes the latents and runs the
synthesis transform. Both return or take
what the harness expects (``H×W×3`` uint8; a :class:`~codecbench.api.codec.Bitstream`
carrying the entropy model's estimate ``Σ −log2 p(ŷ)``).

Framework-free: subclasses import their framework inside the methods they implement.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from codecbench.api.codec import Bitstream, Codec, Family
from codecbench.codecs.learned.container import (
    ContainerError,
    Latent,
    LearnedFile,
    check_latents,
    parse,
)


def cnn_latents(prior: str, y_channels: int, z_channels: int, height: int, width: int,
                multiple: int) -> list[tuple[str, tuple[int, ...]]]:
    """The latents of a CNN codec (either framework) for a ``height×width`` image padded to
    ``multiple``: ``y`` at 1/16 of the padded size and, unless ``prior`` is
    ``factorized``, ``z`` at 1/64."""
    padded_height = -(-height // multiple) * multiple
    padded_width = -(-width // multiple) * multiple
    latents: list[tuple[str, tuple[int, ...]]] = [
        ("latent 1 (y)", (y_channels, padded_height // 16, padded_width // 16))]
    if prior != "factorized":
        latents.append(("latent 2 (z)", (z_channels, padded_height // 64, padded_width // 64)))
    return latents


class LearnedCodec(Codec):
    """Shared rate points, availability and container handling of the learned codecs.

    Subclasses set ``prior``, ``all_qualities`` (the rate points the architecture has)
    and ``no_weights_reason``, and implement :meth:`qualities_with_weights`,
    :meth:`_weights_id`, :meth:`_load` (``(model, weights_id)`` of a quality),
    :meth:`missing_modules`, :meth:`_compress`, :meth:`_expected_latents` and
    :meth:`_decompress`. Models are loaded once per process and quality.
    """

    family = Family.CNN.value
    prior: str
    all_qualities: tuple[int, ...]
    no_weights_reason: str
    install_hint: str = ""

    def __init__(self):
        self._models: dict[int, tuple[object, bytes]] = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_models"] = {}  # worker processes load their own copies
        return state

    # --- what subclasses provide -------------------------------------------------------
    def missing_modules(self) -> list[str]:
        """Python modules the codec needs that are not installed."""
        raise NotImplementedError

    def qualities_with_weights(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _weights_id(self, quality: int) -> bytes:
        raise NotImplementedError

    def _load(self, quality: int):
        raise NotImplementedError

    def _compress(self, model, image: np.ndarray) -> tuple[list[Latent], float]:
        """The coded latents of ``image`` and the entropy model's estimate in bits."""
        raise NotImplementedError

    def _expected_latents(self, model, file: LearnedFile) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every latent ``model`` codes for an image of the file's
        size (and, for progressive codecs, its quality), in file order; derived from the
        model and the header's image size only, never from the latents themselves."""
        raise NotImplementedError

    def _decompress(self, model, file: LearnedFile) -> np.ndarray:
        """The ``H×W×3`` uint8 image of a parsed file whose latents have been checked
        against :meth:`_expected_latents`."""
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------
    # Codec declares complexity, qualities and estimate_bits as plain class-level defaults;
    # learned codecs compute them (read-only properties, a method), which mypy calls an override.
    @property
    def complexity(self) -> dict | None:  # type: ignore[override]  # read-only here
        """Measured parameters and MACs per pixel of encoder and decoder per rate point
        (:mod:`codecbench.codecs.learned.complexity`); ``None`` when not measured."""
        from codecbench.codecs.learned.complexity import complexity

        entry = getattr(self, "entry", None)
        return complexity(entry.slug) if entry is not None else None

    def _model(self, quality: int):
        if quality not in self._models:
            self._models[quality] = self._load(quality)
        return self._models[quality]

    @property
    def qualities(self) -> tuple[int, ...]:  # type: ignore[override]  # read-only here
        # Without any weights every rate point is listed and the codec is unavailable.
        return self.qualities_with_weights() or self.all_qualities

    def availability(self) -> tuple[bool, str]:
        missing = self.missing_modules()
        if missing:
            return False, f"{', '.join(missing)} not installed ({self.install_hint})"
        if not self.qualities_with_weights():
            return False, self.no_weights_reason
        return True, ""

    def _check_quality(self, quality) -> int:
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities)) or "(none: no weights)"
            raise ValueError(f"{self.name} has no quality {quality!r}; valid: {valid}")
        return int(quality)

    def encode(self, image: np.ndarray, quality) -> Bitstream:
        quality = self._check_quality(quality)
        model, weights_id = self._model(quality)
        height, width = image.shape[:2]
        latents, estimated_bits = self._compress(model, image)
        file = LearnedFile(self.name, weights_id, quality, height, width, tuple(latents))
        return Bitstream(file.to_bytes(), estimated_bits)

    def decode(self, data: bytes) -> np.ndarray:
        file = parse(data)  # lengths within the file, image size within MAX_PIXELS
        if file.codec != self.name:
            raise ContainerError(f"file was written by codec {file.codec!r}, not {self.name!r}")
        if file.quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities)) or "(none: no weights)"
            raise ContainerError(f"quality {file.quality}: {self.name} has no quality "
                                 f"{file.quality}; valid: {valid}")
        quality = int(file.quality)
        # the weights id first: a file of another rate point loads no model
        self._check_weights(file, self._weights_id(quality))
        model, weights_id = self._model(quality)
        self._check_weights(file, weights_id)
        check_latents(file, self._expected_latents(model, file), f"{self.name} quality {quality}")
        return self._decompress(model, file)

    def _check_weights(self, file: LearnedFile, weights_id: bytes) -> None:
        if file.weights_id != weights_id:
            raise ContainerError(
                f"file was encoded with weights {file.weights_id.hex()}, but {self.name} "
                f"quality {file.quality} has weights {weights_id.hex()} here"
            )

    def estimate_bits(self, image: np.ndarray, quality) -> float:  # type: ignore[override]  # Codec's None means "not offered"
        """``Σ −log2 p(ŷ)`` of the latents ``encode`` codes (the ``bpp-estimate`` numerator)."""
        # encode always stores _compress's estimate (a float)
        return cast(float, self.encode(image, quality).estimated_bits)
