"""``check_metric``: the metric contract, checked on real photos (see :mod:`codecbench.testing`)."""

from __future__ import annotations

import io
import math
import pickle
import zlib
from collections.abc import Sequence
from numbers import Real
from types import MappingProxyType

import numpy as np

from codecbench.api.metric import Measurement, Metric
from codecbench.testing.photos import metric_crops
from codecbench.testing.reports import (
    MetricCheckError,
    MetricCheckReport,
    check_availability,
    describe,
    is_one_line,
    raise_if_failed,
    read_only,
)

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
    if not is_one_line(name):
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
    if derived_from is not None and not is_one_line(derived_from):
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
        fail(f"picklable: {describe(exc)}")
    available = check_availability(metric, fail)
    spec = None
    if judgeable:
        try:
            spec = metric.spec()
        except Exception as exc:  # noqa: BLE001
            fail(f"metadata: spec() raised {describe(exc)}")
    if not available or spec is None:
        # an unavailable metric cannot run; without a valid spec no value can be judged
        if available:
            fail("values: not checked (the metadata above define no valid spec)")
        raise_if_failed(MetricCheckError, report.metric, report.failures)
    assert spec is not None  # otherwise a failure was recorded and raised just above

    photos = [(str(i), read_only(np.asarray(x))) for i, x in
              (images if images is not None else metric_crops())]
    cases = []  # (image id, kind, reference, reconstruction, size)
    for image_id, image in photos:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        cases.append((image_id, "identical", image, read_only(image), len(buffer.getvalue())))
        for kind, (degraded, size) in _degraded(image).items():
            cases.append((image_id, kind, image, read_only(degraded), size))

    if spec.scope == "set":
        _check_set_metric(metric, spec, photos, cases, report)
    else:
        is_rate = rate if rate is not None else spec.unit.strip().lower() in RATE_UNITS
        _check_image_metric(metric, spec, cases, bases, is_rate, report)
    raise_if_failed(MetricCheckError, report.metric, report.failures)
    return report


def _compute(metric: Metric, reference, reconstruction, size, estimated_bits, values=None):
    """``(value, problem)``: ``problem`` is why the call failed or its value is invalid."""
    measurement = Measurement(reference, reconstruction, size, estimated_bits,
                              MappingProxyType(dict(values or {})))
    try:
        value = metric.compute(measurement)
    except Exception as exc:  # noqa: BLE001
        if "read-only" in str(exc):
            return math.nan, (f"compute writes to its inputs ({describe(exc)}); the images "
                              "are shared with the other metrics and passed read-only")
        return math.nan, f"compute raised {describe(exc)}"
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
        fail(f"features: {where}: features raised {describe(exc)}")
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
            fail(f"distance: {label}: distance raised {describe(exc)}")
            continue
        problem = spec.problem(value)
        if not problem and not math.isfinite(float(value)):
            problem = f"returned {value}, expected a finite number"
        if problem:
            fail(f"distance: {label}: {problem}")
        else:
            report.distances[label] = float(value)
