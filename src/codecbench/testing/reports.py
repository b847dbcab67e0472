"""What every conformance check reports: the errors, the reports and the shared checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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


def raise_if_failed(error: type[CheckError], label: str, failures: list[str]) -> None:
    if failures:
        raise error(f"{label}:\n  " + "\n  ".join(failures))


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip() or repr(exc)}"


def read_only(image: np.ndarray) -> np.ndarray:
    """A read-only copy that owns its buffer (a view of it cannot be made writable)."""
    copy = np.array(image, dtype=np.uint8, order="C", copy=True)
    copy.flags.writeable = False
    return copy


def is_one_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not any(
        c in value for c in "\n\r\t")


def check_availability(obj, fail) -> bool:
    try:
        result = obj.availability()
    except Exception as exc:  # noqa: BLE001
        fail(f"available: availability() raised {describe(exc)}")
        return False
    if (not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[0], bool)
            or not isinstance(result[1], str)):
        fail(f"available: availability() must return (bool, str), got {result!r}")
        return False
    available, reason = result
    if not available:
        fail(f"available: unavailable here: {reason or '(no reason given)'}")
    return available
