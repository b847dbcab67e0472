"""Conformance checks for plugin authors: :func:`check_codec`, :func:`check_metric` and
:func:`check_dataset`.

Use them in your plugin's test suite::

    from codecbench.testing import check_codec, check_dataset, check_metric

    def test_my_codec_conforms():
        check_codec(MyCodec())

    def test_my_metric_conforms():
        check_metric(MyMetric())

    def test_my_dataset_conforms():
        check_dataset(MyDataset())

Each check runs every property it knows, collects every failure and raises one
:class:`CheckError` (:class:`CodecCheckError`, :class:`MetricCheckError`,
:class:`DatasetCheckError`) whose message lists them all, one per line; on success it
returns a report of what it measured.

:func:`check_codec`:

* **metadata**: ``name``, ``family``, ``framework``, ``qualities``, a non-empty
  ``version`` string, ``library_versions()`` a ``{str: str}`` dict, ``in_default_run`` a
  bool, ``description`` a string;
* **available**: ``availability()`` returns ``(bool, str)``; an unavailable codec is one
  failure quoting its reason, and the checks that need the codec to run are skipped;
* **picklable**: the codec survives ``pickle`` (the process executor needs it);
* **round trip**: ``decode(encode(x, q))`` is a ``uint8`` array of ``x``'s shape, for
  every quality, on real photos (crops of the bundled sample set, an odd size among
  them), given as read-only arrays as the harness does (``encode`` must not write to its
  input);
* **decode from bytes alone**: a copy of the codec taken *before* any encode call decodes
  the bytes to the same image, even after the original codec has encoded another image in
  between (no state leaks from encoder to decoder);
* **deterministic decode**: decoding the same bytes twice gives identical pixels;
* **rate grows with quality**: file sizes do not decrease along ``qualities``, and the
  last is larger than the first;
* **estimate**: a :class:`~codecbench.api.codec.Bitstream`'s ``estimated_bits``, and
  ``estimate_bits(image, quality)`` when the codec offers it, are finite positive numbers.

:func:`check_metric`:

* **metadata**: ``name`` (non-empty, one line), ``unit`` (str), ``higher_is_better``
  (bool), ``valid_range`` (a ``(low, high)`` pair of numbers, ``low ≤ high``),
  ``allows_infinity`` and ``rd_axis`` (bool), ``version`` (non-empty str),
  ``derived_from`` (``None`` or a str), ``description`` (str), ``scope`` (``"image"`` or
  ``"set"``);
* **picklable**, and **available**: as for codecs (an unavailable metric is one failure,
  and the value checks are skipped);
* **values**: on real photo crops (:func:`metric_crops`) compared with themselves, with a
  JPEG-compressed copy and with a noisy copy, ``compute`` returns a number that its
  :class:`~codecbench.api.metric.MetricSpec` accepts (inside ``valid_range``; ``±inf``
  only with ``allows_infinity``); ``nan`` ("does not apply") is accepted on some
  images, a ``nan`` on every image is a failure;
* **deterministic**: the same measurement twice gives the same value;
* **inputs untouched**: the images are passed read-only (a write raises, and is reported
  as such);
* **identical images are best**: the value of an image against itself is not worse, in the
  metric's direction, than against either degraded copy;
* **independent of the file size**: a distortion metric gives the same value when
  ``compressed_size`` and ``estimated_bits`` change. A *rate* metric (its unit is a rate
  unit such as ``bpp``, or ``rate=True``) is exempt from this and from the previous
  property;
* **derived metrics**: with ``bases`` given, the value computed with the base metrics'
  values in :attr:`~codecbench.api.metric.Measurement.values` (as the harness passes
  them) equals the value computed without them;
* for a :class:`~codecbench.api.metric.SetMetric` instead of ``compute``: ``features``
  returns a finite 2-D float array of the same width for every image, deterministically,
  and ``distance`` of the features with themselves and with the degraded images' features
  is finite and inside ``valid_range``.

:func:`check_dataset`:

* **metadata**: ``name`` (non-empty, one line), ``version``, ``license`` and ``source``
  (non-empty strings), ``description`` (a string); ``status()`` a non-empty string;
* **picklable** (a copy has the same metadata, ids and hash), and **no I/O on
  construction** (nor when unpickled or when its metadata is read): see
  :func:`check_dataset`;
* **image ids**: ``image_ids()`` is a non-empty list of distinct strings, ``len()`` agrees;
* **images**: the first ``max_images`` ids load as ``H×W×3`` uint8 RGB arrays, the same
  twice, and iteration starts with the first id and its image;
* **stable content hash**: ``content_hash()`` is a non-empty string, the same on the
  dataset and on a pickled copy.
"""

from __future__ import annotations

import builtins
import io
import math
import os
import pathlib
import pickle
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Real
from types import MappingProxyType

import numpy as np

from codecbench.api.codec import Codec, quality_key, validate_codec_metadata
from codecbench.api.dataset import Dataset
from codecbench.api.metric import Measurement, Metric


class CheckError(AssertionError):
    """One or more conformance properties failed; the message lists them all."""


class CodecCheckError(CheckError):
    """:func:`check_codec` found failures."""


class MetricCheckError(CheckError):
    """:func:`check_metric` found failures."""


class DatasetCheckError(CheckError):
    """:func:`check_dataset` found failures."""


@dataclass
class CodecCheckReport:
    """What :func:`check_codec` measured: file sizes per image and quality."""

    codec: str
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class MetricCheckReport:
    """What :func:`check_metric` measured.

    ``values`` maps ``image id → {"identical" | "jpeg" | "noise": value}`` (image metrics);
    ``distances`` maps ``"self"`` and ``"degraded"`` to the set metric's distances.
    """

    metric: str
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    distances: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class DatasetCheckReport:
    """What :func:`check_dataset` measured."""

    dataset: str
    content_hash: str = ""
    n_images: int = 0
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _raise_if_failed(error: type[CheckError], label: str, failures: list[str]) -> None:
    if failures:
        raise error(f"{label}:\n  " + "\n  ".join(failures))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip() or repr(exc)}"


def _read_only(image: np.ndarray) -> np.ndarray:
    """A read-only copy that owns its buffer (a view of it cannot be made writable)."""
    copy = np.array(image, dtype=np.uint8, order="C", copy=True)
    copy.flags.writeable = False
    return copy


def _is_one_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not any(
        c in value for c in "\n\r\t")


def sample_crops() -> list[tuple[str, np.ndarray]]:
    """Small crops of two bundled real photos: 96×128 and an odd 67×45."""
    from codecbench.datasets.builtin import sample_dataset

    dataset = sample_dataset()
    first, second = dataset.image_ids()[:2]
    return [
        (f"{first}[96x128]", np.ascontiguousarray(dataset.load(first)[100:196, 100:228])),
        (f"{second}[67x45]", np.ascontiguousarray(dataset.load(second)[51:118, 77:122])),
    ]


def metric_crops() -> list[tuple[str, np.ndarray]]:
    """Crops of two bundled real photos large enough for every built-in image metric
    (MS-SSIM needs 161 px on the shorter side): 176×192 and an odd 165×171."""
    from codecbench.datasets.builtin import sample_dataset

    dataset = sample_dataset()
    first, second = dataset.image_ids()[:2]
    return [
        (f"{first}[176x192]", np.ascontiguousarray(dataset.load(first)[60:236, 80:272])),
        (f"{second}[165x171]", np.ascontiguousarray(dataset.load(second)[40:205, 60:231])),
    ]


# -- codecs ---------------------------------------------------------------------------------


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

    available = _check_availability(codec, fail)
    snapshot = None
    try:
        snapshot = pickle.dumps(codec)
    except Exception as exc:  # noqa: BLE001
        fail(f"picklable: pickle.dumps failed: {_describe(exc)}")
    if not available:  # the remaining checks need the codec to run
        _raise_if_failed(CodecCheckError, report.codec, report.failures)
    try:
        version = codec.version
        if not isinstance(version, str) or not version.strip():
            fail(f"metadata: version must be a non-empty string, got {version!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: version raised {_describe(exc)}")
    try:
        libraries = codec.library_versions()
        if not isinstance(libraries, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in libraries.items()):
            fail(f"metadata: library_versions() must return a dict of str to str, "
                 f"got {libraries!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: library_versions() raised {_describe(exc)}")

    try:
        images = [(str(i), _read_only(np.asarray(x))) for i, x in
                  (images if images is not None else sample_crops())]
        qualities = list(qualities) if qualities is not None else list(codec.qualities)
    except Exception as exc:  # noqa: BLE001 - bad metadata, already reported
        fail(f"round trip: cannot prepare the images or qualities: {_describe(exc)}")
        _raise_if_failed(CodecCheckError, report.codec, report.failures)
        raise
    fresh = None
    if snapshot is not None:
        try:
            fresh = pickle.loads(snapshot)
        except Exception as exc:  # noqa: BLE001
            fail(f"picklable: pickle.loads failed: {_describe(exc)}")
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
                fail(f"round trip: encode failed on {where}: {_describe(exc)}{hint}")
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
                fail(f"estimate: estimate_bits failed on {image_id}: {_describe(exc)}")
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
            fail(f"decode from bytes alone failed on {where}: {_describe(exc)}")
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
            fail(f"decode by the encoding instance failed on {where}: {_describe(exc)}")
            continue
        if not np.array_equal(first, by_original):
            fail(f"decode from bytes alone: a fresh copy decodes differently from the "
                 f"encoding instance on {where}")
    _raise_if_failed(CodecCheckError, report.codec, report.failures)
    return report


def _check_availability(obj, fail) -> bool:
    try:
        result = obj.availability()
    except Exception as exc:  # noqa: BLE001
        fail(f"available: availability() raised {_describe(exc)}")
        return False
    if (not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[0], bool)
            or not isinstance(result[1], str)):
        fail(f"available: availability() must return (bool, str), got {result!r}")
        return False
    available, reason = result
    if not available:
        fail(f"available: unavailable here: {reason or '(no reason given)'}")
    return available


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


# -- metrics --------------------------------------------------------------------------------

RATE_UNITS = frozenset({"bpp", "bit/px", "bits/pixel", "bit", "bits", "b", "byte", "bytes",
                        "kb", "kib", "mb", "mib"})
"""Units that make :func:`check_metric` treat a metric as a rate metric by default."""

DEGRADATIONS = ("jpeg", "noise")


def _degraded(image: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """``{kind: (degraded image, plausible file size in bytes)}`` for one real photo."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="JPEG", quality=25)
    jpeg_bytes = buffer.getvalue()
    with Image.open(io.BytesIO(jpeg_bytes)) as decoded:
        jpeg = np.array(decoded.convert("RGB"), dtype=np.uint8)
    rng = np.random.default_rng(zlib.crc32(image.tobytes()))
    noisy = np.clip(image + rng.normal(0.0, 8.0, image.shape), 0, 255).round().astype(np.uint8)
    return {"jpeg": (jpeg, len(jpeg_bytes)),
            "noise": (noisy, len(zlib.compress(noisy.tobytes(), 6)))}


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _not_worse(best: float, other: float, higher_is_better: bool) -> bool:
    if math.isnan(best) or math.isnan(other):
        return True
    tolerance = 1e-9 * max(1.0, abs(other)) if math.isfinite(other) else 0.0
    return best >= other - tolerance if higher_is_better else best <= other + tolerance


def _check_metric_metadata(metric: Metric, fail) -> bool:
    """Report metadata problems; whether the values can still be judged (a valid range,
    direction and scope)."""
    name = getattr(metric, "name", None)
    if not _is_one_line(name):
        fail(f"metadata: name must be a non-empty one-line string, got {name!r}")
    for attribute, kind in (("unit", str), ("description", str), ("higher_is_better", bool),
                            ("allows_infinity", bool), ("rd_axis", bool)):
        value = getattr(metric, attribute, None)
        if not isinstance(value, kind):
            fail(f"metadata: {attribute} must be a {kind.__name__}, got {value!r}")
    version = getattr(metric, "version", None)
    if not isinstance(version, str) or not version.strip():
        fail(f"metadata: version must be a non-empty string, got {version!r}")
    derived_from = getattr(metric, "derived_from", None)
    if derived_from is not None and not _is_one_line(derived_from):
        fail(f"metadata: derived_from must be None or a metric name, got {derived_from!r}")
    if derived_from is not None and derived_from == name:
        fail(f"metadata: derived_from names the metric itself ({name!r})")
    scope = getattr(metric, "scope", None)
    if scope not in ("image", "set"):
        fail(f"metadata: scope must be 'image' or 'set', got {scope!r}")
    valid_range = getattr(metric, "valid_range", None)
    pair = (isinstance(valid_range, (tuple, list)) and len(valid_range) == 2
            and all(isinstance(v, Real) and not isinstance(v, bool) for v in valid_range))
    if not pair:
        fail(f"metadata: valid_range must be a (low, high) pair of numbers, got {valid_range!r}")
        return False
    assert isinstance(valid_range, (tuple, list))  # checked by `pair`
    if not float(valid_range[0]) <= float(valid_range[1]):  # also rejects nan
        fail(f"metadata: valid_range must have low <= high, got {tuple(valid_range)!r}")
        return False
    return scope in ("image", "set") and isinstance(getattr(metric, "higher_is_better", None),
                                                     bool)


def check_metric(
    metric: Metric,
    images: Sequence[tuple[str, np.ndarray]] | None = None,
    bases: Sequence[Metric] = (),
    rate: bool | None = None,
) -> MetricCheckReport:
    """Check every metric property listed in the module docstring.

    ``images`` (default :func:`metric_crops`) are ``(id, H×W×3 uint8)`` real photos; each
    is measured against itself and against a JPEG-compressed and a noisy copy. ``bases``
    are metrics whose values the harness passes to this one (its ``derived_from``): they
    are computed first, as in a run. ``rate`` says whether this is a rate metric (default:
    whether its unit is in :data:`RATE_UNITS`). Raises :class:`MetricCheckError` listing
    every failure; returns the values.
    """
    report = MetricCheckReport(metric=str(getattr(metric, "name", metric)))
    fail = report.failures.append
    judgeable = _check_metric_metadata(metric, fail)
    try:
        pickle.loads(pickle.dumps(metric))
    except Exception as exc:  # noqa: BLE001
        fail(f"picklable: {_describe(exc)}")
    available = _check_availability(metric, fail)
    spec = None
    if judgeable:
        try:
            spec = metric.spec()
        except Exception as exc:  # noqa: BLE001
            fail(f"metadata: spec() raised {_describe(exc)}")
    if not available or spec is None:
        # an unavailable metric cannot run; without a valid spec no value can be judged
        if available:
            fail("values: not checked (the metadata above define no valid spec)")
        _raise_if_failed(MetricCheckError, report.metric, report.failures)
    assert spec is not None  # otherwise a failure was recorded and raised just above

    photos = [(str(i), _read_only(np.asarray(x))) for i, x in
              (images if images is not None else metric_crops())]
    cases = []  # (image id, kind, reference, reconstruction, size)
    for image_id, image in photos:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        cases.append((image_id, "identical", image, _read_only(image), len(buffer.getvalue())))
        for kind, (degraded, size) in _degraded(image).items():
            cases.append((image_id, kind, image, _read_only(degraded), size))

    if spec.scope == "set":
        _check_set_metric(metric, spec, photos, cases, report)
    else:
        is_rate = rate if rate is not None else spec.unit.strip().lower() in RATE_UNITS
        _check_image_metric(metric, spec, cases, bases, is_rate, report)
    _raise_if_failed(MetricCheckError, report.metric, report.failures)
    return report


def _compute(metric: Metric, reference, reconstruction, size, estimated_bits, values=None):
    """``(value, problem)``: ``problem`` is why the call failed or its value is invalid."""
    measurement = Measurement(reference, reconstruction, size, estimated_bits,
                              MappingProxyType(dict(values or {})))
    try:
        value = metric.compute(measurement)
    except Exception as exc:  # noqa: BLE001
        if "read-only" in str(exc):
            return math.nan, (f"compute writes to its inputs ({_describe(exc)}); the images "
                              "are shared with the other metrics and passed read-only")
        return math.nan, f"compute raised {_describe(exc)}"
    problem = metric.spec().problem(value)
    if problem:
        return math.nan, problem
    return float(value), ""


def _check_image_metric(metric, spec, cases, bases, is_rate, report) -> None:
    fail = report.failures.append
    from codecbench.api.metric import evaluation_order

    ordered_bases = [m for m in evaluation_order(list(bases)) if m.name != spec.name]
    for image_id, kind, reference, reconstruction, size in cases:
        where = f"{image_id} vs {kind}"
        estimated_bits = 8.0 * size * 0.98
        base_values: dict[str, float] = {}
        for base in ordered_bases:
            value, problem = _compute(base, reference, reconstruction, size, estimated_bits,
                                      base_values)
            if problem:
                fail(f"derived: base metric {base.name} failed on {where}: {problem}")
            else:
                base_values[base.name] = value
        value, problem = _compute(metric, reference, reconstruction, size, estimated_bits)
        if problem:
            fail(f"values: {where}: {problem}")
            continue
        report.values.setdefault(image_id, {})[kind] = value
        again, problem = _compute(metric, reference, reconstruction, size, estimated_bits)
        if problem or not _same(value, again):
            fail(f"deterministic: {where}: {value!r} then {problem or repr(again)}")
        if base_values:
            derived, problem = _compute(metric, reference, reconstruction, size,
                                        estimated_bits, base_values)
            if problem or not _same(value, derived):
                fail(f"derived: {where}: {value!r} computed alone, "
                     f"{problem or repr(derived)} with the values of "
                     f"{', '.join(base_values)}")
        if not is_rate:
            other, problem = _compute(metric, reference, reconstruction, 3 * size + 17,
                                      None)
            if problem or not _same(value, other):
                fail(f"independent of the file size: {where}: {value!r} with "
                     f"{size} bytes, {problem or repr(other)} with {3 * size + 17} bytes "
                     "and no estimate (a rate metric: pass rate=True)")
        # Without an entropy estimate ("does not apply" may be nan), the value stays valid.
        _value, problem = _compute(metric, reference, reconstruction, size, None)
        if problem:
            fail(f"values: {where} with estimated_bits=None: {problem}")

    all_values = [v for by_kind in report.values.values() for v in by_kind.values()]
    if all_values and all(math.isnan(v) for v in all_values):
        fail("values: nan on every image (nan means 'does not apply to this image')")
    if is_rate:
        return
    for image_id, by_kind in report.values.items():
        best = by_kind.get("identical")
        if best is None:
            continue
        for kind in DEGRADATIONS:
            if kind in by_kind and not _not_worse(best, by_kind[kind], spec.higher_is_better):
                direction = "higher" if spec.higher_is_better else "lower"
                fail(f"identical images are best: {image_id}: {best!r} against itself, "
                     f"{by_kind[kind]!r} against its {kind} copy ({direction} is better)")


def _features(metric, image, where, fail) -> np.ndarray | None:
    try:
        features = metric.features(image)
    except Exception as exc:  # noqa: BLE001
        fail(f"features: {where}: features raised {_describe(exc)}")
        return None
    if (not isinstance(features, np.ndarray) or features.ndim != 2
            or not np.issubdtype(features.dtype, np.floating)):
        fail(f"features: {where}: expected a 2-D float ndarray, got "
             f"{type(features).__name__} {getattr(features, 'dtype', '')} "
             f"{getattr(features, 'shape', '')}")
        return None
    if features.shape[0] == 0 or not np.isfinite(features).all():
        fail(f"features: {where}: {features.shape[0]} rows, finite: "
             f"{bool(np.isfinite(features).all())} (expected at least one finite row)")
        return None
    return features


def _check_set_metric(metric, spec, photos, cases, report) -> None:
    fail = report.failures.append
    real, fake = [], []
    for image_id, kind, reference, reconstruction, _size in cases:
        if kind == "identical":
            features = _features(metric, reference, image_id, fail)
            again = _features(metric, reference, image_id, lambda _message: None)
            if features is not None:
                if again is None or again.shape != features.shape or not np.allclose(
                        again, features, rtol=1e-6, atol=1e-9):
                    fail(f"deterministic: {image_id}: features differ between two calls")
                real.append(features)
        else:
            features = _features(metric, reconstruction, f"{image_id} {kind}", fail)
            if features is not None:
                fake.append(features)
    widths = {f.shape[1] for f in real + fake}
    if len(widths) > 1:
        fail(f"features: the feature width differs between images: {sorted(widths)}")
        return
    if not real or not fake:
        return
    stacked_real, stacked_fake = np.concatenate(real), np.concatenate(fake)
    for label, other in (("self", stacked_real), ("degraded", stacked_fake)):
        try:
            value = metric.distance(stacked_real, other)
        except Exception as exc:  # noqa: BLE001
            fail(f"distance: {label}: distance raised {_describe(exc)}")
            continue
        problem = spec.problem(value)
        if not problem and not math.isfinite(float(value)):
            problem = f"returned {value}, expected a finite number"
        if problem:
            fail(f"distance: {label}: {problem}")
        else:
            report.distances[label] = float(value)


# -- datasets -------------------------------------------------------------------------------

DATASET_METADATA = ("name", "version", "license", "source", "description")


@contextmanager
def file_access_log() -> Iterator[list[str]]:
    """Record the file-system reads made inside the block (``open`` / ``io.open``,
    ``Path.open``, ``os.open``, ``os.scandir``, ``os.listdir``) as ``"function(path)"``.

    Python's import system reads modules through its own bindings (``io.open_code`` and
    the ``posix`` functions), so imports do not show up. The functions are replaced
    process-wide while the block runs: keep it short and single-threaded.
    """
    events: list[str] = []
    originals: list[tuple[object, str, Callable]] = []

    def spy(owner: object, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def recording(*args, **kwargs):
            target = args[0] if args else next(iter(kwargs.values()), ".")
            if isinstance(target, (str, bytes, os.PathLike)):
                target = os.fsdecode(target)
            events.append(f"{label}({target})")
            return original(*args, **kwargs)

        originals.append((owner, attribute, original))
        setattr(owner, attribute, recording)

    spy(builtins, "open", "open")
    spy(io, "open", "io.open")
    spy(pathlib.Path, "open", "Path.open")
    for name in ("open", "scandir", "listdir"):
        spy(os, name, f"os.{name}")
    try:
        yield events
    finally:
        for owner, attribute, original in reversed(originals):
            setattr(owner, attribute, original)


def check_dataset(dataset: Dataset | Callable[[], Dataset],
                  max_images: int = 3) -> DatasetCheckReport:
    """Check every dataset property listed in the module docstring.

    ``dataset`` is an instance, or what builds one: the class, or a function without
    arguments (``lambda: MyDataset(root)``).

    **No I/O on construction** is observed with :func:`file_access_log`: any file opened
    or directory listed is a failure that names them. Given what builds the dataset, the
    construction itself runs inside the log. An instance was built before the check could
    watch; then what is watched is what stands for a new instance afterwards: a copy made
    by ``pickle.loads`` (the class's ``__setstate__``/``__reduce__`` logic; ``__init__``
    does not run) and the reads of ``name``, ``version``, ``license``, ``source`` and
    ``description`` that listings and ``run.json`` make.

    ``max_images`` ids (the first ones) are loaded. Reading images may download a
    downloadable dataset: check such a dataset once it is cached.
    Raises :class:`DatasetCheckError` listing every failure.
    """
    fail_early: list[str] = []
    if callable(dataset) and not isinstance(dataset, Dataset):
        build = dataset
        with file_access_log() as reads:
            try:
                dataset = build()
            except Exception as exc:  # noqa: BLE001
                label = getattr(build, "__name__", repr(build))
                raise DatasetCheckError(f"{label}:\n  construction raised "
                                        f"{_describe(exc)}") from exc
        if reads:
            fail_early.append("no I/O on construction: constructing the dataset touched "
                              f"files: {', '.join(dict.fromkeys(reads))}")
    report = DatasetCheckReport(dataset=str(getattr(dataset, "name", dataset)))
    report.failures.extend(fail_early)
    fail = report.failures.append

    copy = None
    try:
        data = pickle.dumps(dataset)
    except Exception as exc:  # noqa: BLE001
        fail(f"picklable: pickle.dumps failed: {_describe(exc)}")
        data = None
    metadata: dict[str, object] = {}
    with file_access_log() as reads:
        if data is not None:
            try:
                copy = pickle.loads(data)
            except Exception as exc:  # noqa: BLE001
                fail(f"picklable: pickle.loads failed: {_describe(exc)}")
        for attribute in DATASET_METADATA:
            try:
                metadata[attribute] = getattr(copy if copy is not None else dataset,
                                              attribute, None)
            except Exception as exc:  # noqa: BLE001
                metadata[attribute] = exc
    if reads:
        what = "unpickling the dataset and reading" if data is not None else "reading"
        fail(f"no I/O on construction: {what} its metadata touched files: "
             f"{', '.join(dict.fromkeys(reads))}")
    for attribute, value in metadata.items():
        if isinstance(value, Exception):
            fail(f"metadata: {attribute} raised {_describe(value)}")
        elif attribute == "name":
            if not _is_one_line(value):
                fail(f"metadata: name must be a non-empty one-line string, got {value!r}")
        elif attribute == "description":
            if not isinstance(value, str):
                fail(f"metadata: description must be a string, got {value!r}")
        elif not isinstance(value, str) or not value.strip():
            fail(f"metadata: {attribute} must be a non-empty string, got {value!r}")
        if (copy is not None and not isinstance(value, Exception)
                and getattr(dataset, attribute, None) != value):
            fail(f"picklable: {attribute} of the pickled copy is {value!r}, not "
                 f"{getattr(dataset, attribute, None)!r}")
    try:
        status = dataset.status()
        if not isinstance(status, str) or not status.strip():
            fail(f"metadata: status() must return a non-empty string, got {status!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: status() raised {_describe(exc)}")

    ids, listed = _check_image_ids(dataset, fail)
    report.n_images = len(ids)
    if copy is not None and listed:
        try:
            copied_ids = list(copy.image_ids())
        except Exception as exc:  # noqa: BLE001
            fail(f"picklable: image_ids() of the pickled copy raised {_describe(exc)}")
        else:
            if copied_ids != listed:
                fail(f"picklable: the pickled copy has other image ids ({len(copied_ids)} "
                     f"ids, first {copied_ids[:3]!r}; the dataset: {ids[:3]!r})")
    for image_id in list(dict.fromkeys(ids))[:max_images]:
        try:
            image = dataset.load(image_id)
            again = dataset.load(image_id)
        except Exception as exc:  # noqa: BLE001
            fail(f"images: load({image_id!r}) raised {_describe(exc)}")
            continue
        problem = _rgb_problem(image)
        if problem:
            fail(f"images: load({image_id!r}) returned {problem}, expected H×W×3 uint8 RGB")
            continue
        report.shapes[image_id] = tuple(image.shape)
        if not (isinstance(again, np.ndarray) and np.array_equal(image, again)):
            fail(f"images: two loads of {image_id!r} differ")
    if ids:
        try:
            first_id, first_image = next(iter(dataset))
            if first_id != ids[0] or not np.array_equal(first_image, dataset.load(ids[0])):
                fail(f"images: iteration starts with {first_id!r}, not with {ids[0]!r} "
                     "and its image")
        except Exception as exc:  # noqa: BLE001
            fail(f"images: iterating raised {_describe(exc)}")

    try:
        first = dataset.content_hash()
        if not isinstance(first, str) or not first.strip():
            fail(f"stable content hash: content_hash() returned {first!r}, expected a "
                 "non-empty string")
        elif copy is not None:
            second = copy.content_hash()
            if second != first:
                fail(f"stable content hash: {first!r} on the dataset, {second!r} on a pickled "
                     "copy")
        report.content_hash = first if isinstance(first, str) else ""
    except Exception as exc:  # noqa: BLE001
        fail(f"stable content hash: content_hash() raised {_describe(exc)}")
    _raise_if_failed(DatasetCheckError, report.dataset, report.failures)
    return report


def _check_image_ids(dataset: Dataset, fail) -> tuple[list[str], list]:
    """``(the string ids, every id as listed)`` of ``dataset``, failing on bad ones."""
    try:
        ids = dataset.image_ids()
    except Exception as exc:  # noqa: BLE001
        fail(f"image ids: image_ids() raised {_describe(exc)}")
        return [], []
    if not isinstance(ids, (list, tuple)):
        fail(f"image ids: image_ids() must return a list, got {type(ids).__name__}")
        ids = list(ids)
    if not ids:
        fail("image ids: the dataset has no images")
    bad = [i for i in ids if not isinstance(i, str) or not i]
    if bad:
        fail(f"image ids: ids must be non-empty strings, got {bad[:5]!r}")
    seen: set = set()
    # set.add returning None is the point of the idiom: it marks i as seen
    duplicates = sorted({str(i) for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if duplicates:
        fail(f"image ids: duplicates: {duplicates[:5]!r}")
    try:
        if len(dataset) != len(ids):
            fail(f"image ids: len() is {len(dataset)}, image_ids() has {len(ids)}")
    except Exception as exc:  # noqa: BLE001
        fail(f"image ids: len() raised {_describe(exc)}")
    return [i for i in ids if isinstance(i, str)], list(ids)


def _rgb_problem(image: object) -> str:
    if not isinstance(image, np.ndarray):
        return type(image).__name__
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        return f"an array of dtype {image.dtype} and shape {image.shape}"
    return ""
