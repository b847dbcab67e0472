"""The codec contract.

A codec turns an RGB image into **the whole compressed file** and back:

* ``encode(image, quality) -> bytes``: ``image`` is a ``numpy.uint8`` array of
  shape ``H×W×3`` (RGB). The returned bytes are everything a decoder needs:
  headers, container, side information. The harness measures the rate as
  ``bpp = 8 × len(bytes) / (H × W)``, header included.
* ``decode(data) -> image``: rebuilds an ``H×W×3`` ``uint8`` RGB array from
  those bytes alone, without state left over from ``encode``.

Learned codecs also report the entropy model's estimate ``-Σ log2 p(ŷ)`` of the
payload in bits, so that the estimate and the real file size can be compared: their
``encode`` returns a :class:`Bitstream` (a ``bytes`` carrying ``estimated_bits``), which
the ``bpp-estimate`` metric reads, and they may offer
``estimate_bits(image, quality) -> float`` for use outside the harness.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class Family(enum.StrEnum):
    """Codec families as in the survey: classical, CNN, RNN, GAN, or other."""

    CLASSICAL = "classical"
    CNN = "cnn"
    RNN = "rnn"
    GAN = "gan"
    OTHER = "other"


FAMILIES = tuple(f.value for f in Family)

Quality = int | float | str
"""One operating point: whatever the codec's ``qualities`` lists (a JPEG
quality factor, a target compression ratio, an iteration count, ...)."""


class Bitstream(bytes):
    """The bytes of a compressed file, plus the entropy model's estimate of their size.

    ``estimated_bits`` is ``-Σ log2 p(ŷ)`` over every coded latent, as the model's
    likelihoods give it (before the real entropy coder's overhead and the container
    header); ``None`` when the codec has no such estimate. A plain ``bytes`` works
    wherever a ``Bitstream`` does.
    """

    estimated_bits: float | None

    def __new__(cls, data: bytes, estimated_bits: float | None = None):
        stream = super().__new__(cls, data)
        stream.estimated_bits = estimated_bits
        return stream


class Codec(abc.ABC):
    """Base class of every codec.

    Subclasses set the class attributes ``name``, ``family``, ``framework``
    and ``qualities`` (or assign them in ``__init__``), and implement
    :meth:`encode`, :meth:`decode` and the :attr:`version` property.

    Attributes:
        name: unique codec name, e.g. ``jpeg`` or ``torch/bmshj2018-hyperprior``.
        family: one of :class:`Family` (``classical``, ``cnn``, ``rnn``, ``gan``, ``other``).
        framework: the library doing the work, e.g. ``pillow``, ``torch``, ``tf``.
        qualities: the operating points, ordered from lowest to highest rate.
        description: one line shown by ``codecbench list codecs``.
        in_default_run: whether ``codecbench run`` without ``--codec`` includes it; codecs
            that take seconds per image set ``False`` so the default run stays a quick
            demonstration (they run when selected, e.g. ``--codec '*'``).
    """

    name: str
    family: str = Family.OTHER.value
    framework: str = "none"
    qualities: Sequence[Quality] = ()
    description: str = ""
    in_default_run: bool = True

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Exact version of what encodes: library version, weights hash, settings.

        May import the codec's library; it is read only when the codec is used.
        """

    def library_versions(self) -> dict[str, str]:
        """Versions of every library this codec runs on, for ``run.json``."""
        return {}

    def availability(self) -> tuple[bool, str]:
        """``(True, "")`` when the codec can run here, else ``(False, reason)``.

        Must be cheap and must not import heavy frameworks; check for a module
        with :func:`importlib.util.find_spec`, a binary with :func:`shutil.which`.
        """
        return True, ""

    @abc.abstractmethod
    def encode(self, image: np.ndarray, quality: Quality) -> bytes:
        """Compress ``image`` (``H×W×3`` uint8 RGB) at ``quality``; return the whole file."""

    @abc.abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Decompress a file produced by :meth:`encode`; return ``H×W×3`` uint8 RGB."""

    # Optional: learned codecs override this (see module docstring).
    estimate_bits = None
    complexity: dict | None = None
    """Optional: measured parameters and MACs per pixel of the encoder and decoder per
    quality (learned codecs; shown by ``codecbench list codecs --json``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def quality_key(quality: Quality) -> str:
    """Canonical text form of a quality point, used in the results store and on the CLI."""
    return str(quality)


def find_quality(codec: Codec, text: str) -> Quality:
    """The operating point of ``codec`` whose canonical text is ``text``."""
    for quality in codec.qualities:
        if quality_key(quality) == text:
            return quality
    valid = ", ".join(quality_key(q) for q in codec.qualities)
    raise ValueError(f"codec {codec.name!r} has no quality {text!r}; valid: {valid}")


def validate_codec_metadata(codec: Codec) -> list[str]:
    """Problems with the required metadata of ``codec`` (empty list when fine)."""
    problems = []
    name = getattr(codec, "name", None)
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "\n\r\t"):
        problems.append(f"name must be a non-empty one-line string, got {name!r}")
    if getattr(codec, "family", None) not in FAMILIES:
        problems.append(f"family must be one of {FAMILIES}, got {getattr(codec, 'family', None)!r}")
    if not isinstance(getattr(codec, "framework", None), str) or not codec.framework:
        problems.append("framework must be a non-empty string")
    qualities = getattr(codec, "qualities", None)
    if not isinstance(qualities, Sequence) or isinstance(qualities, str) or not qualities:
        problems.append(f"qualities must be a non-empty sequence, got {qualities!r}")
    elif len({quality_key(q) for q in qualities}) != len(qualities):
        problems.append(f"qualities must be distinct, got {list(qualities)!r}")
    return problems


def bits_per_pixel(n_bytes: int, width: int, height: int) -> float:
    """``bpp = 8 · bytes / (width · height)``: the rate of the whole file, header included."""
    return 8.0 * n_bytes / (width * height)
