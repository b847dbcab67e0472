"""Conformance checks for codec authors: ``codecbench.testing.check_codec``.

Use it in your plugin's test suite::

    from codecbench.testing import check_codec

    def test_my_codec_conforms():
        check_codec(MyCodec())

It raises :class:`CodecCheckError` listing every failed property:

* **metadata**: ``name``, ``family``, ``framework``, ``qualities`` and a
  non-empty ``version`` string are present and valid;
* **picklable**: the codec survives ``pickle`` (the process executor needs it);
* **round trip**: ``decode(encode(x, q))`` is a ``uint8`` array of ``x``'s shape,
  for every quality, on real photos (crops of the bundled sample set, an odd
  size among them);
* **decode from bytes alone**: a copy of the codec taken *before* any encode
  call decodes the bytes to the same image, even after the original codec has
  encoded another image in between (no state leaks from encoder to decoder);
* **deterministic decode**: decoding the same bytes twice gives identical pixels;
* **rate grows with quality**: file sizes do not decrease along ``qualities``,
  and the last is larger than the first;
* **estimate** (when the codec offers ``estimate_bits``): a finite positive number.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from codecbench.core.codec import Codec, quality_key, validate_codec_metadata


class CodecCheckError(AssertionError):
    """One or more conformance properties failed; the message lists them all."""


@dataclass
class CodecCheckReport:
    """What :func:`check_codec` measured: file sizes per image and quality."""

    codec: str
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def sample_crops() -> list[tuple[str, np.ndarray]]:
    """Small crops of two bundled real photos: 96×128 and an odd 67×45."""
    from codecbench.datasets.builtin import sample_dataset

    dataset = sample_dataset()
    first, second = dataset.image_ids()[:2]
    return [
        (f"{first}[96x128]", np.ascontiguousarray(dataset.load(first)[100:196, 100:228])),
        (f"{second}[67x45]", np.ascontiguousarray(dataset.load(second)[51:118, 77:122])),
    ]


def _bytes_of(data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecCheckError(f"encode returned {type(data).__name__}, expected bytes")
    return bytes(data)


def check_codec(
    codec: Codec,
    images: Sequence[tuple[str, np.ndarray]] | None = None,
    qualities: Sequence | None = None,
) -> CodecCheckReport:
    """Check every property listed in the module docstring; raise on any failure."""
    report = CodecCheckReport(codec=str(getattr(codec, "name", codec)))
    fail = report.failures.append
    for problem in validate_codec_metadata(codec):
        fail(f"metadata: {problem}")
    available, reason = codec.availability()
    if not available:
        raise CodecCheckError(f"{report.codec}: unavailable here: {reason}")
    try:
        version = codec.version
        if not isinstance(version, str) or not version.strip():
            fail(f"metadata: version must be a non-empty string, got {version!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: version raised {type(exc).__name__}: {exc}")
    try:
        snapshot = pickle.dumps(codec)
    except Exception as exc:  # noqa: BLE001
        raise CodecCheckError(f"{report.codec}: not picklable: {exc}") from exc
    if report.failures:
        raise CodecCheckError(f"{report.codec}:\n  " + "\n  ".join(report.failures))

    images = list(images) if images is not None else sample_crops()
    qualities = list(qualities) if qualities is not None else list(codec.qualities)
    fresh = pickle.loads(snapshot)
    encoded: list[tuple[str, object, np.ndarray, bytes]] = []
    for image_id, image in images:
        sizes = report.sizes.setdefault(image_id, {})
        for quality in qualities:
            where = f"{image_id} q={quality_key(quality)}"
            try:
                data = _bytes_of(codec.encode(image, quality))
            except Exception as exc:  # noqa: BLE001
                fail(f"round trip: encode failed on {where}: {type(exc).__name__}: {exc}")
                continue
            sizes[quality_key(quality)] = len(data)
            encoded.append((where, quality, image, data))
        _check_rate_order(image_id, sizes, qualities, fail)
        if codec.estimate_bits is not None:
            _check_estimate(codec, image_id, image, qualities[-1], fail)

    # Decoding happens after every encode, with a copy made before the first encode:
    # a decoder that relies on encoder state fails here.
    for where, _quality, image, data in encoded:
        try:
            first = fresh.decode(data)
            second = fresh.decode(data)
        except Exception as exc:  # noqa: BLE001
            fail(f"decode from bytes alone failed on {where}: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(first, np.ndarray) or first.dtype != np.uint8:
            fail(f"round trip: decode returned {type(first).__name__} "
                 f"{getattr(first, 'dtype', '')} on {where}, expected uint8 ndarray")
            continue
        if first.shape != image.shape:
            fail(f"round trip: decoded shape {first.shape} != input shape {image.shape} on {where}")
            continue
        if not np.array_equal(first, second):
            fail(f"deterministic decode: two decodes of the same bytes differ on {where}")
        try:
            by_original = codec.decode(data)
        except Exception as exc:  # noqa: BLE001
            fail(f"decode by the encoding instance failed on {where}: {exc}")
            continue
        if not np.array_equal(first, by_original):
            fail(f"decode from bytes alone: a fresh copy decodes differently from the "
                 f"encoding instance on {where}")
    if report.failures:
        raise CodecCheckError(f"{report.codec}:\n  " + "\n  ".join(report.failures))
    return report


def _check_rate_order(image_id, sizes, qualities, fail) -> None:
    ordered = [sizes[quality_key(q)] for q in qualities if quality_key(q) in sizes]
    if len(ordered) != len(qualities) or len(ordered) < 2:
        return
    keys = [quality_key(q) for q in qualities]
    drops = [
        f"{keys[i - 1]}→{keys[i]}: {ordered[i - 1]}→{ordered[i]} bytes"
        for i in range(1, len(ordered))
        if ordered[i] < ordered[i - 1]
    ]
    if drops:
        fail(f"rate grows with quality: size decreases on {image_id} at " + "; ".join(drops))
    if ordered[-1] <= ordered[0]:
        fail(f"rate grows with quality: {image_id} highest quality is not larger than lowest "
             f"({ordered[-1]} vs {ordered[0]} bytes)")


def _check_estimate(codec, image_id, image, quality, fail) -> None:
    try:
        bits = float(codec.estimate_bits(image, quality))
    except Exception as exc:  # noqa: BLE001
        fail(f"estimate: estimate_bits failed on {image_id}: {type(exc).__name__}: {exc}")
        return
    if not math.isfinite(bits) or bits <= 0:
        fail(f"estimate: estimate_bits gave {bits} on {image_id}, expected a finite positive number")
