"""The metric contract.

A metric maps one evaluated image to one number::

    value = metric.compute(reference, reconstruction, compressed_size)

``reference`` and ``reconstruction`` are ``H×W×3`` uint8 RGB arrays of the
same shape; ``compressed_size`` is the length in bytes of the whole compressed
file. A metric with ``uses_estimate = True`` is called with a fourth argument,
``estimated_bits``: the entropy model's estimate the codec reported with its
:class:`~codecbench.core.codec.Bitstream` (``None`` for codecs without one; the metric
then returns ``nan``, an empty cell, not an error). Per-image values are averaged over a dataset by the leaderboard
(arithmetic mean, as in the survey's tables).
"""

from __future__ import annotations

import abc

import numpy as np


class Metric(abc.ABC):
    """Base class of every metric.

    Attributes:
        name: unique metric name, also its column in ``rows.csv``.
        unit: unit of the value (``dB``, ``bpp``, ``""`` for unitless).
        higher_is_better: direction used by leaderboards and plots.
        description: the formula and conventions, one line.
    """

    name: str
    unit: str = ""
    higher_is_better: bool = True
    description: str = ""
    uses_estimate: bool = False
    scope: str = "image"

    @abc.abstractmethod
    def compute(
        self, reference: np.ndarray, reconstruction: np.ndarray, compressed_size: int
    ) -> float:
        """The metric's value for one image."""

    def availability(self) -> tuple[bool, str]:
        """``(True, "")``, or ``(False, reason)`` when the metric cannot be computed here
        (e.g. pretrained weights absent). Unavailable metrics are left out of the default
        run; naming one with ``--metric`` is an error quoting the reason."""
        return True, ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class SetMetric(Metric):
    """A metric of a *set* of images (FID, KID): no value per image.

    For every evaluated image, :meth:`features` of the original and of the reconstruction
    are stored with the task's row; the value of a codec at a quality on a dataset is
    :meth:`distance` of all originals' features against all reconstructions' (computed
    when the leaderboard is aggregated, :mod:`codecbench.evaluators.set_metrics`).
    """

    scope = "set"

    @abc.abstractmethod
    def features(self, image: np.ndarray) -> np.ndarray:
        """``n × d`` float features of one ``H×W×3`` uint8 image (``n`` may vary)."""

    @abc.abstractmethod
    def distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        """The metric between the stacked features of originals and reconstructions."""

    def compute(self, reference, reconstruction, compressed_size) -> float:
        raise TypeError(f"{self.name} is a set metric: it has no per-image value")
