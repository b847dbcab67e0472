"""What every learned codec (``torch/…``, ``tf/…``, ``compressai/…``) does the same way.

A learned codec runs a model of the model table (:mod:`codecbench.codecs.learned.models`)
at rate points ("qualities"). ``encode`` runs the framework's analysis transform and
entropy coder and writes the strings into the container of
:mod:`codecbench.codecs.learned.container`; ``decode`` reads nothing but those bytes and
trusts none of them: it refuses a file written by another codec, for a rate point the
codec does not have or with other weights, then checks the count and the shape of every
latent against what the model codes for an image of the header's size
(:meth:`LearnedCodec._expected_latents`), and only then decodes the latents and runs the
synthesis transform. Both return or take what the harness expects (``H×W×3`` uint8; a
:class:`~codecbench.api.codec.Bitstream` carrying the entropy model's estimate
``Σ −log2 p(ŷ)``).

This base owns, once for every family: the codec's name (``<framework>/<slug>``), where
its weights are (:mod:`.weights_locator`; TF twins read a TF file first, else the torch
weights, converted at load time), which rate points have weights, availability and the
"no weights" message, the version (``<coder library> <version>; weights <ids>``), the
per-process model cache and the container. Two bases refine it:

* :class:`SingleShotCodec` — one network per rate point, one forward pass per image;
* :class:`~codecbench.codecs.learned.progressive.ProgressiveCodec` — one network for
  every rate point, the file of rate point ``k`` the first ``k`` latents.

Framework-free: subclasses import their framework inside the methods they implement.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from codecbench.api.capabilities import Trainable
from codecbench.api.codec import Bitstream, Codec, Family
from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.container import (
    ContainerError,
    Latent,
    LearnedFile,
    check_latents,
    parse,
)

if TYPE_CHECKING:
    import numpy as np

PREFIX = {"torch": "torch", "tensorflow": "tf"}
"""The codec-name prefix of each framework (``torch/…``, ``tf/…``)."""


class ModelEntry(Protocol):
    """What the base reads of a model-table entry."""

    @property
    def slug(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def qualities(self) -> tuple[int, ...]: ...


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
    """Shared naming, weights, rate points, availability, version and container handling.

    A subclass mixes in its framework (:class:`~codecbench.frameworks.torch_runtime.TorchFramework`
    or :class:`~codecbench.frameworks.tf_runtime.TensorFlowFramework`: ``framework``,
    ``coder_library``, ``install_hint``, ``missing_modules``, ``library_versions``), sets
    ``prior`` and implements :meth:`_load`, :meth:`_compress`, :meth:`_expected_latents` and
    :meth:`_decompress`. Models are loaded once per process and quality.
    """

    family = Family.CNN.value
    prior: str
    all_qualities: tuple[int, ...]
    install_hint: str = ""
    coder_library: str = ""
    one_network_for_all_rates: ClassVar[bool] = False
    """``True``: one weights file ``<slug>…safetensors`` serves every rate point."""
    variable_rate_weights: ClassVar[bool] = False
    """``True``: a codec of one network per rate point also takes one variable-rate file
    ``<slug>…safetensors`` for the rate points without a file of their own in the same
    folder (:func:`~codecbench.codecs.learned.weights_locator.find_weights`)."""

    def __init__(self, entry: ModelEntry | None = None):
        self._models: dict[int, tuple[object, bytes]] = {}
        self.entry = entry
        if entry is not None:
            self.name = f"{PREFIX.get(self.framework, self.framework)}/{entry.slug}"
            self.all_qualities = tuple(entry.qualities)
            self.family = getattr(entry, "family", type(self).family)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_models"] = {}  # worker processes load their own copies
        return state

    # --- what subclasses provide -------------------------------------------------------
    @abc.abstractmethod
    def missing_modules(self) -> list[str]:
        """Python modules the codec needs that are not installed (the framework mixin's)."""

    @abc.abstractmethod
    def _load(self, quality: int) -> tuple[object, bytes]:
        """``(model, weights id)`` of rate point ``quality``."""

    @abc.abstractmethod
    def _compress(self, model, image: np.ndarray) -> tuple[list[Latent], float]:
        """The coded latents of ``image`` and the entropy model's estimate in bits."""

    @abc.abstractmethod
    def _expected_latents(self, model, file: LearnedFile) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every latent ``model`` codes for an image of the file's
        size (and, for progressive codecs, its quality), in file order; derived from the
        model and the header's image size only, never from the latents themselves."""

    @abc.abstractmethod
    def _decompress(self, model, file: LearnedFile) -> np.ndarray:
        """The ``H×W×3`` uint8 image of a parsed file whose latents have been checked
        against :meth:`_expected_latents`."""

    # --- weights -----------------------------------------------------------------------
    @property
    def padding_multiple(self) -> int:
        """The image is edge-padded to a multiple of this (the model table's value)."""
        return int(getattr(self.entry, "padding_multiple", 64))

    @property
    def weights_sources(self) -> tuple[str, ...]:
        """The frameworks whose weights files are searched, in order: a TF twin reads a TF
        file first, else the torch weights (converted at load time)."""
        return ("tensorflow", "torch") if self.framework == "tensorflow" else (self.framework,)

    @property
    def weights_env(self) -> str:
        """The variable naming the folders searched first for this codec's weights."""
        return weights_locator.weights_env(self.weights_sources[0])

    def weights_file(self, quality: int | None = None) -> Path | None:
        """The weights file rate point ``quality`` loads (``None`` or any quality when one
        network serves every rate point), or ``None``."""
        if self.entry is None:
            return None
        per_point = None if self.one_network_for_all_rates else quality
        for framework in self.weights_sources:
            # in each folder a rate point's own file first, then the variable-rate one
            path = weights_locator.find_weights(framework, self.entry.slug, per_point,
                                                self.variable_rate_weights)
            if path is not None:
                return path
        return None

    def _existing_weights(self, quality: int) -> Path:
        path = self.weights_file(quality)
        if path is None:
            raise FileNotFoundError(f"{self.name} quality {quality}: {self.no_weights_reason}")
        return path

    def qualities_with_weights(self) -> tuple[int, ...]:
        if self.one_network_for_all_rates:
            return self.all_qualities if self.weights_file() is not None else ()
        return tuple(q for q in self.all_qualities if self.weights_file(q) is not None)

    def _weights_id(self, quality: int) -> bytes:
        return self._file_id(self._existing_weights(quality), quality)

    def _file_id(self, path: Path, quality: int) -> bytes:
        """The weights id a file of rate point ``quality`` records: the weights file's, or,
        when one variable-rate network (``<slug>…safetensors``) serves the rate point, the
        id of that rate point in it (:func:`~.weights_format.rate_point_id`), so a file
        claiming another rate point of the same network is refused."""
        file_id = weights_format.weights_id(path)
        slug = self.entry.slug if self.entry is not None else ""
        variable_rate = self.variable_rate_weights and path.name in {
            weights_locator.weights_filename(framework, slug)
            for framework in self.weights_sources}
        return weights_format.rate_point_id(file_id, quality) if variable_rate else file_id

    @property
    def trains_here(self) -> bool:
        """Whether ``codecbench train`` trains this codec in its own framework."""
        return isinstance(self, Trainable)

    @property
    def no_weights_reason(self) -> str:
        """Why the codec is unavailable without weights, and where weights come from."""
        if self.framework != "tensorflow":
            return weights_locator.no_weights_hint(self.framework, f"codecbench train {self.name}")
        slug = self.entry.slug if self.entry is not None else self.name
        train = f" / 'codecbench train {self.name}'" if self.trains_here else ""
        return (f"no weights: the torch/{slug} weights (converted at load time; install "
                f"{weights_locator.MODELS_DISTRIBUTION} for ours) or a 'codecbench convert'"
                f"{train} output in ${weights_locator.weights_env('tensorflow')}")

    def torch_twin_weights(self, source: Codec, quality: int) -> Path:
        """The weights file of ``source``'s rate point ``quality`` that ``codecbench convert``
        reads for this codec, which must be ``source``'s twin (``torch/<slug>``)."""
        twin = f"torch/{self.entry.slug}" if self.entry is not None else None
        if source.name != twin:
            raise ValueError(f"{self.name} converts {twin}, not {source.name}")
        path = source.weights_file(quality) if isinstance(source, LearnedCodec) else None
        if path is None:
            raise ValueError(f"{source.name} has no weights for quality {quality}")
        return path

    # --- shared ------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """``<coder library> <version>; weights <ids>`` (``q<k>:<id>`` per rate point, or
        the one file's id)."""
        if self.one_network_for_all_rates:
            ids = self._weights_id(1).hex() if self.weights_file() is not None else ""
        else:
            ids = ",".join(f"q{q}:{self._weights_id(q).hex()}"
                           for q in self.qualities_with_weights())
        library = self.coder_library
        return f"{library} {self.library_versions()[library]}; weights {ids or 'none'}"

    # Codec declares complexity, qualities and estimate_bits as plain class-level defaults;
    # learned codecs compute them (read-only properties, a method), which mypy calls an override.
    @property
    def complexity(self) -> dict | None:  # type: ignore[override]  # read-only here
        """Measured parameters and MACs per pixel of encoder and decoder per rate point
        (:mod:`codecbench.codecs.learned.complexity`); ``None`` when not measured."""
        from codecbench.codecs.learned.complexity import complexity

        return complexity(self.entry.slug) if self.entry is not None else None

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


class SingleShotCodec(LearnedCodec):
    """One network per rate point (``<slug>-q<k>…safetensors``); a file holds the latents
    of one pass of the analysis transform. Subclasses implement :meth:`_load_weights`."""

    @abc.abstractmethod
    def _load_weights(self, path: Path, quality: int) -> object:
        """The model of the weights file ``path`` for rate point ``quality``; refuses a
        file of another model or rate point."""

    def _load(self, quality: int) -> tuple[object, bytes]:
        path = self._existing_weights(quality)
        return self._load_weights(path, quality), self._file_id(path, quality)


def check_model_slug(path: Path, metadata: dict[str, str], slug: str) -> None:
    """Refuse a weights file whose metadata names another model."""
    if metadata.get("model") != slug:
        raise ValueError(f"{path} holds weights of {metadata.get('model')!r}, not {slug!r}")
