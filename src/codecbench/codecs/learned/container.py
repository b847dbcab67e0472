"""The file format of codecbench's learned codecs (torch/…, tf/…, compressai/…).

A learned codec's bitstream is a list of entropy-coded strings (one per latent: ``y``,
and ``z`` for hyperprior models) that only decode with the same weights, quality and
latent shapes. This container stores exactly that, so ``decode`` needs nothing but the
file. All integers are big-endian::

    offset  size  field
    0       4     magic b"CBLC" (codecbench learned codec)
    4       1     format version (1)
    5       1     n = length of the codec name in bytes
    6       n     codec name, UTF-8 (e.g. "torch/bmshj2018-hyperprior")
    6+n     8     weights id: first 8 bytes of SHA-256 of the weights file
    14+n    1     quality index (the codec's rate point)
    15+n    4     image height in pixels (before padding)
    19+n    4     image width in pixels
    23+n    1     k = number of latents
    then k times:
            1     d = number of dimensions of the latent (channels, height, width: 3)
            2·d   its shape, uint16 each
            4     s = length of its entropy-coded string
            s     the string

The header costs ``24 + len(name) + Σ (1 + 2·d + 4)`` bytes (about 60 for a hyperprior
model); it is part of every file and therefore of the reported ``bpp``.

Nothing in the header is trusted. :func:`parse` refuses a file whose lengths run past its
end, whose image has a side of 0 or more than :data:`MAX_PIXELS` pixels, or with bytes
after the last latent, allocating nothing larger than the file. A codec's ``decode``
then checks the codec name, the quality, the weights id and every latent's rank and
shape against what its model codes for an image of the header's size
(:func:`check_latents`), before any string is decoded. Each refusal is a
:class:`ContainerError` (a ``ValueError``) of one line naming the field, its value and
what was expected.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"CBLC"
FORMAT_VERSION = 1
WEIGHTS_ID_BYTES = 8
MAX_PIXELS = 2 * 89_478_485
"""The most pixels (height × width) a file may describe: the size above which Pillow, the
classical codecs' decoder, refuses an image as a decompression bomb (twice its default
``Image.MAX_IMAGE_PIXELS``)."""


class ContainerError(ValueError):
    """The bytes are not a valid codecbench learned-codec file (or not for this codec)."""


@dataclass(frozen=True)
class Latent:
    """One entropy-coded latent tensor: its shape and its string."""

    shape: tuple[int, ...]
    string: bytes


@dataclass(frozen=True)
class LearnedFile:
    """The parsed content of a learned-codec file."""

    codec: str
    weights_id: bytes
    quality: int
    height: int
    width: int
    latents: tuple[Latent, ...]

    def to_bytes(self) -> bytes:
        """Serialise; the inverse of :func:`parse`."""
        name = self.codec.encode("utf-8")
        if not 0 < len(name) < 256:
            raise ContainerError(f"codec name must be 1-255 bytes of UTF-8, got {len(name)}")
        if len(self.weights_id) != WEIGHTS_ID_BYTES:
            raise ContainerError(f"weights id must be {WEIGHTS_ID_BYTES} bytes")
        if not 0 <= self.quality < 256:
            raise ContainerError(f"quality index {self.quality} does not fit one byte")
        check_image_size(self.height, self.width)
        parts = [
            MAGIC,
            struct.pack(">BB", FORMAT_VERSION, len(name)),
            name,
            self.weights_id,
            struct.pack(">BIIB", self.quality, self.height, self.width, len(self.latents)),
        ]
        for latent in self.latents:
            if any(not 0 <= size < 65536 for size in latent.shape):
                raise ContainerError(f"latent shape {latent.shape} does not fit uint16")
            parts.append(struct.pack(f">B{len(latent.shape)}HI", len(latent.shape),
                                     *latent.shape, len(latent.string)))
            parts.append(latent.string)
        return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise ContainerError(
                f"file is truncated: {what} needs bytes {self.offset}-{end}, "
                f"the file has {len(self.data)}"
            )
        chunk = bytes(self.data[self.offset:end])
        self.offset = end
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def parse(data: bytes) -> LearnedFile:
    """Parse a learned-codec file; :class:`ContainerError` names what is wrong."""
    reader = _Reader(data)
    magic = reader.take(4, "magic")
    if magic != MAGIC:
        raise ContainerError(f"not a codecbench learned-codec file (magic {magic!r}, "
                             f"expected {MAGIC!r})")
    version, name_length = reader.unpack(">BB", "header")
    if version != FORMAT_VERSION:
        raise ContainerError(f"unsupported container version {version} "
                             f"(this codecbench reads version {FORMAT_VERSION})")
    try:
        codec = reader.take(name_length, "codec name").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContainerError(f"codec name is not UTF-8: {exc}") from None
    weights_id = reader.take(WEIGHTS_ID_BYTES, "weights id")
    quality, height, width, count = reader.unpack(">BIIB", "image header")
    check_image_size(height, width)
    latents = []
    for index in range(count):
        (ndim,) = reader.unpack(">B", f"latent {index} rank")
        shape = reader.unpack(f">{ndim}H", f"latent {index} shape")
        (length,) = reader.unpack(">I", f"latent {index} length")
        latents.append(Latent(tuple(shape), reader.take(length, f"latent {index} string")))
    if reader.offset != len(data):
        raise ContainerError(f"{len(data) - reader.offset} unexpected bytes after the last latent")
    return LearnedFile(codec, weights_id, quality, height, width, tuple(latents))


def check_image_size(height: int, width: int) -> None:
    """Refuse an image size with a side of 0 or more than :data:`MAX_PIXELS` pixels."""
    if height < 1 or width < 1 or height * width > MAX_PIXELS:
        raise ContainerError(f"image size {width}×{height} (width×height): expected sides of "
                             f"at least 1 and at most {MAX_PIXELS} pixels")


def check_latents(file: LearnedFile, expected: Sequence[tuple[str, tuple[int, ...]]],
                  what: str) -> None:
    """Refuse ``file`` unless its latents are, in order, exactly ``expected``: one
    ``(name, shape)`` per latent, the shapes the codec ``what`` (e.g.
    ``"torch/bmshj2018-hyperprior quality 3"``) codes for an image of the header's size.
    Called before any string is decoded, so a corrupted count or shape costs nothing."""
    if len(file.latents) != len(expected):
        names = [name for name, _ in expected]
        listed = ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"
        raise ContainerError(f"latent count {len(file.latents)}: expected {len(expected)} "
                             f"({listed}) for {what}")
    for latent, (name, shape) in zip(file.latents, expected, strict=True):
        if tuple(latent.shape) != tuple(shape):
            raise ContainerError(f"{name} has shape {tuple(latent.shape)}, expected "
                                 f"{tuple(shape)} for a {file.width}×{file.height} image "
                                 f"({what})")
