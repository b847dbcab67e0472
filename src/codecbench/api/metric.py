"""The metric contract.

A metric maps one evaluated image to one number::

    value = metric.compute(measurement)

``measurement`` is a :class:`Measurement`: the ``H×W×3`` uint8 RGB ``reference`` and
``reconstruction`` (same shape, read-only), ``compressed_size`` — the length in **bytes**
of the whole compressed file, header included —, ``estimated_bits`` — the entropy
model's estimate the codec reported with its :class:`~codecbench.api.codec.Bitstream`
(``None`` for codecs without one) — and ``values``, the metrics of the same image
computed before this one (a derived metric reads its base there instead of computing it
again, see :attr:`Metric.derived_from`).

What ``compute`` returns, and what becomes of it:

* a number inside :attr:`Metric.valid_range` → the image's cell;
* ``nan`` → an empty cell that is *not* an error ("does not apply": ``bpp-estimate`` of
  a classical codec);
* anything else — an exception, ``None``, a non-number, a value outside the valid range,
  ``±inf`` when :attr:`Metric.allows_infinity` is false — → the cell stays empty and the
  message goes to the row's ``metric_errors`` (``{"metric": "message"}``). The file size,
  ``bpp`` and every other metric of that image are kept.

Per-image values are averaged over a dataset by the leaderboard (arithmetic mean, as in
the survey's tables), over the images where the metric has a value; the leaderboard says
how many that was (``n_<metric>``).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Measurement:
    """What a metric is computed from: one image, its reconstruction and its file."""

    reference: np.ndarray
    reconstruction: np.ndarray
    compressed_size: int
    """Length in bytes of the whole compressed file (``Codec.encode``'s result)."""
    estimated_bits: float | None = None
    """The entropy model's ``Σ −log2 p(ŷ)`` in bits, or ``None``."""
    values: Mapping[str, float] = field(default_factory=dict)
    """Values of the metrics computed before this one on the same image."""

    @property
    def width(self) -> int:
        return int(self.reference.shape[1])

    @property
    def height(self) -> int:
        return int(self.reference.shape[0])

    @property
    def pixels(self) -> int:
        """``H · W`` (an RGB pixel counts once)."""
        return self.width * self.height


@dataclass(frozen=True)
class MetricSpec:
    """What reports need to know about a metric, without the metric's code.

    Written into ``run.json`` with every run, so a leaderboard of a run can be laid out
    even where the plugin that computed a metric is not installed.
    """

    name: str
    unit: str = ""
    higher_is_better: bool = True
    valid_range: tuple[float, float] = (-math.inf, math.inf)
    allows_infinity: bool = False
    rd_axis: bool = False
    version: str = "1"
    description: str = ""
    scope: str = "image"

    def problem(self, value: object) -> str:
        """Why ``value`` cannot be this metric's value (``""`` when it can; ``nan`` can)."""
        import numpy as np

        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            return f"returned {type(value).__name__} {value!r}, expected a number"
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number) and not self.allows_infinity:
            return f"returned {number}, expected a finite number"
        low, high = self.valid_range
        if not low <= number <= high:
            return f"returned {number!r}, outside its valid range [{low:g}, {high:g}]"
        return ""

    def as_record(self) -> dict[str, Any]:
        return {
            "name": self.name, "unit": self.unit, "higher_is_better": self.higher_is_better,
            "valid_range": list(self.valid_range), "allows_infinity": self.allows_infinity,
            "rd_axis": self.rd_axis, "version": self.version, "description": self.description,
            "scope": self.scope,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MetricSpec:
        """The spec stored by :meth:`as_record` (missing fields take their defaults)."""
        low, high = record.get("valid_range") or (-math.inf, math.inf)
        return cls(
            name=str(record["name"]), unit=str(record.get("unit") or ""),
            higher_is_better=bool(record.get("higher_is_better", True)),
            valid_range=(float(low), float(high)),
            allows_infinity=bool(record.get("allows_infinity", False)),
            rd_axis=bool(record.get("rd_axis", False)), version=str(record.get("version", "1")),
            description=str(record.get("description") or ""),
            scope=str(record.get("scope") or "image"),
        )


class Metric(abc.ABC):
    """Base class of every metric.

    Attributes:
        name: unique metric name, also its column in ``rows.csv`` and ``leaderboard.csv``.
        unit: unit of the value (``dB``, ``bpp``, ``""`` for unitless).
        higher_is_better: direction used by leaderboards, BD tables and plots.
        valid_range: ``(low, high)``, inclusive: the values the metric can take. A value
            outside it is recorded as the metric's error, and ``leaderboard validate``
            rejects it in a CSV.
        allows_infinity: whether ``±inf`` is a legitimate value (PSNR of a lossless
            reconstruction); otherwise non-finite values are errors.
        rd_axis: whether reports treat it as a quality axis of rate–distortion curves:
            BD-rate and BD-metric columns, an RD plot, a column in the md/html views.
        version: changes whenever the metric's values change (a formula, a network's
            weights, a convention). It goes into ``run.json`` and the resume fingerprint:
            a run directory refuses to mix values of two versions.
        derived_from: the name of a metric whose value this one transforms
            (``ms-ssim-db`` from ``ms-ssim``): the harness computes that one first and
            passes its value in :attr:`Measurement.values`.
        description: the formula and conventions, one line.
    """

    name: str
    unit: str = ""
    higher_is_better: bool = True
    valid_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    allows_infinity: ClassVar[bool] = False
    rd_axis: ClassVar[bool] = False
    version: str = "1"
    derived_from: ClassVar[str | None] = None
    description: str = ""
    scope: ClassVar[str] = "image"

    @abc.abstractmethod
    def compute(self, measurement: Measurement) -> float:
        """The metric's value for one image (``nan``: does not apply to this image)."""

    def availability(self) -> tuple[bool, str]:
        """``(True, "")``, or ``(False, reason)`` when the metric cannot be computed here
        (e.g. pretrained weights absent). Unavailable metrics are left out of the default
        run; naming one with ``--metric`` is an error quoting the reason."""
        return True, ""

    def spec(self) -> MetricSpec:
        """The declarations reports use (:class:`MetricSpec`)."""
        low, high = self.valid_range
        return MetricSpec(
            name=self.name, unit=self.unit, higher_is_better=bool(self.higher_is_better),
            valid_range=(float(low), float(high)), allows_infinity=bool(self.allows_infinity),
            rd_axis=bool(self.rd_axis), version=str(self.version),
            description=self.description, scope=self.scope,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class SetMetric(Metric):
    """A metric of a *set* of images (FID, KID): no value per image.

    For every evaluated image, :meth:`features` of the original and of the reconstruction
    are stored with the task's row; the value of a codec at a quality on a dataset is
    :meth:`distance` of all originals' features against all reconstructions' (computed
    when the leaderboard is aggregated, :mod:`codecbench.harness.set_metrics`). A
    failing :meth:`features` call costs only this metric's cell of that image.
    """

    scope = "set"

    @abc.abstractmethod
    def features(self, image: np.ndarray) -> np.ndarray:
        """``n × d`` float features of one ``H×W×3`` uint8 image (``n`` may vary)."""

    @abc.abstractmethod
    def distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        """The metric between the stacked features of originals and reconstructions."""

    def compute(self, measurement: Measurement) -> float:
        raise TypeError(f"{self.name} is a set metric: it has no per-image value")


def evaluation_order(metrics: tuple[Metric, ...] | list[Metric]) -> list[Metric]:
    """``metrics`` with every metric after the one it is :attr:`~Metric.derived_from`
    (when both are selected); otherwise in the given order."""
    by_name = {m.name: m for m in metrics}
    ordered: list[Metric] = []
    seen: set[str] = set()

    def place(metric: Metric) -> None:
        if metric.name in seen:
            return
        seen.add(metric.name)  # before the base: a cycle of bases ends here
        base = metric.derived_from
        if base and base in by_name:
            place(by_name[base])
        ordered.append(metric)

    for metric in metrics:
        place(metric)
    return ordered
