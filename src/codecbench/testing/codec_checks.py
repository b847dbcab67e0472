"""``check_codec``: the codec contract, checked on real photos (see :mod:`codecbench.testing`)."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence

import numpy as np

from codecbench.api.codec import Codec, quality_key, validate_codec_metadata
from codecbench.testing.photos import sample_crops
from codecbench.testing.reports import (
    CodecCheckError,
    CodecCheckReport,
    check_availability,
    describe,
    raise_if_failed,
    read_only,
)


def _bytes_of(data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"encode returned {type(data).__name__}, expected bytes")
    return bytes(data)


def check_codec(
    codec: Codec,
    images: Sequence[tuple[str, np.ndarray]] | None = None,
    qualities: Sequence | None = None,
) -> CodecCheckReport:
    """Check every codec property listed in the module docstring.

    ``images`` (default :func:`sample_crops`) are ``(id, H×W×3 uint8)`` pairs;
    ``qualities`` (default: all of the codec's) the operating points to encode at.
    Raises :class:`CodecCheckError` listing every failure; returns the file sizes.
    """
    report = CodecCheckReport(codec=str(getattr(codec, "name", codec)))
    fail = report.failures.append
    for problem in validate_codec_metadata(codec):
        fail(f"metadata: {problem}")
    if not isinstance(getattr(codec, "in_default_run", None), bool):
        fail(f"metadata: in_default_run must be a bool, got "
             f"{getattr(codec, 'in_default_run', None)!r}")
    if not isinstance(getattr(codec, "description", None), str):
        fail(f"metadata: description must be a string, got "
             f"{getattr(codec, 'description', None)!r}")

    available = check_availability(codec, fail)
    snapshot = None
    try:
        snapshot = pickle.dumps(codec)
    except Exception as exc:  # noqa: BLE001
        fail(f"picklable: pickle.dumps failed: {describe(exc)}")
    if not available:  # the remaining checks need the codec to run
        raise_if_failed(CodecCheckError, report.codec, report.failures)
    try:
        version = codec.version
        if not isinstance(version, str) or not version.strip():
            fail(f"metadata: version must be a non-empty string, got {version!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: version raised {describe(exc)}")
    try:
        libraries = codec.library_versions()
        if not isinstance(libraries, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in libraries.items()):
            fail(f"metadata: library_versions() must return a dict of str to str, "
                 f"got {libraries!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: library_versions() raised {describe(exc)}")

    try:
        images = [(str(i), read_only(np.asarray(x))) for i, x in
                  (images if images is not None else sample_crops())]
        qualities = list(qualities) if qualities is not None else list(codec.qualities)
    except Exception as exc:  # noqa: BLE001 - bad metadata, already reported
        fail(f"round trip: cannot prepare the images or qualities: {describe(exc)}")
        raise_if_failed(CodecCheckError, report.codec, report.failures)
        raise
    fresh = None
    if snapshot is not None:
        try:
            fresh = pickle.loads(snapshot)
        except Exception as exc:  # noqa: BLE001
            fail(f"picklable: pickle.loads failed: {describe(exc)}")
    if fresh is None:
        fail("decode from bytes alone: not checked (the codec cannot be copied by pickle)")

    encoded: list[tuple[str, np.ndarray, bytes]] = []
    for image_id, image in images:
        sizes = report.sizes.setdefault(image_id, {})
        for quality in qualities:
            where = f"{image_id} q={quality_key(quality)}"
            try:
                result = codec.encode(image, quality)
                data = _bytes_of(result)
            except Exception as exc:  # noqa: BLE001
                hint = (" (encode must not write to its input: the harness passes a "
                        "read-only array)" if "read-only" in str(exc) else "")
                fail(f"round trip: encode failed on {where}: {describe(exc)}{hint}")
                continue
            sizes[quality_key(quality)] = len(data)
            _check_bits(getattr(result, "estimated_bits", None),
                        f"Bitstream.estimated_bits on {where}", fail)
            encoded.append((where, image, data))
        _check_rate_order(image_id, sizes, qualities, fail)
        if codec.estimate_bits is not None and qualities:
            try:
                bits = codec.estimate_bits(image, qualities[-1])
            except Exception as exc:  # noqa: BLE001
                fail(f"estimate: estimate_bits failed on {image_id}: {describe(exc)}")
            else:
                _check_bits(bits, f"estimate_bits on {image_id}", fail)

    # Decoding happens after every encode, with a copy made before the first encode:
    # a decoder that relies on encoder state fails here.
    decoder = fresh if fresh is not None else codec
    for where, image, data in encoded:
        try:
            first = decoder.decode(data)
            second = decoder.decode(data)
        except Exception as exc:  # noqa: BLE001
            fail(f"decode from bytes alone failed on {where}: {describe(exc)}")
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
        if fresh is None:
            continue
        try:
            by_original = codec.decode(data)
        except Exception as exc:  # noqa: BLE001
            fail(f"decode by the encoding instance failed on {where}: {describe(exc)}")
            continue
        if not np.array_equal(first, by_original):
            fail(f"decode from bytes alone: a fresh copy decodes differently from the "
                 f"encoding instance on {where}")
    raise_if_failed(CodecCheckError, report.codec, report.failures)
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


def _check_bits(bits, what: str, fail) -> None:
    if bits is None and what.startswith("Bitstream"):
        return
    try:
        number = float(bits)
    except (TypeError, ValueError):
        fail(f"estimate: {what} is {bits!r}, expected a finite positive number")
        return
    if not math.isfinite(number) or number <= 0:
        fail(f"estimate: {what} is {number}, expected a finite positive number")
