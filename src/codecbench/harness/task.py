"""One task: encode one image at one quality, decode it, and measure it.

:func:`evaluate` never raises for a failure of the codec or a metric: a codec's
failure becomes the row's ``error`` (``"<stage>: <Type>: <message>"``), a metric's
failure that metric's entry in ``metric_errors``, so the run goes on. The encode and decode times are wall-clock ``perf_counter``
durations of the ``encode`` and ``decode`` calls alone.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

from codecbench.api.codec import Codec, Quality, quality_key
from codecbench.api.dataset import Dataset
from codecbench.api.images import check_rgb_image
from codecbench.api.metric import Measurement, Metric, SetMetric, evaluation_order
from codecbench.harness.schema import ResultRow

if TYPE_CHECKING:
    import numpy as np


class TaskTimeout(BaseException):
    """Raised inside a task by the in-process executor's alarm (a ``BaseException``, so a
    codec's ``except Exception`` cannot swallow it)."""


class MetricValueError(ValueError):
    """A metric returned something that cannot be its value (``None``, out of range)."""


@dataclass
class Task:
    """Everything a worker needs to evaluate one codec × quality × image."""

    codec: Codec
    codec_version: str
    quality: Quality
    dataset: str
    image_id: str
    image: np.ndarray | None
    metrics: tuple[Metric, ...]
    source: Dataset | None = None
    """The dataset to read the image from where the task runs, when ``image`` is ``None``
    (executors that read images on their workers: :attr:`Executor.reads_images`)."""

    def __post_init__(self):
        self.codec_name = self.codec.name
        self.key = (self.codec.name, quality_key(self.quality), self.dataset, self.image_id)

    def without_payload(self) -> Task:
        """A copy without codec, metrics and image (a worker already holds them)."""
        light = copy.copy(self)
        light.codec, light.metrics, light.image = None, (), None  # type: ignore[assignment]
        light.source = None
        return light

    def with_image_loaded(self) -> Task | ResultRow:
        """The task with its image read from :attr:`source` (where the task runs), or the
        error row of an image that does not load."""
        if self.image is not None or self.source is None:
            return self
        try:
            image = self.source.load(self.image_id)
        except Exception as exc:  # noqa: BLE001 - as the run's own image loading
            return self.row(error=describe_error("load image", exc))
        loaded = copy.copy(self)
        loaded.image = image
        return loaded

    def row(self, **fields) -> ResultRow:
        """A result row for this task, with the given measured fields."""
        height, width = self.image.shape[:2] if self.image is not None else (None, None)
        return ResultRow(
            codec=self.codec.name,
            quality=quality_key(self.quality),
            dataset=self.dataset,
            image_id=self.image_id,
            codec_version=self.codec_version,
            framework=self.codec.framework,
            family=self.codec.family,
            width=width,
            height=height,
            **fields,
        )


def describe_error(stage: str, exc: BaseException) -> str:
    message = str(exc).strip() or repr(exc)
    return f"{stage}: {type(exc).__name__}: {message}"


def evaluate(task: Task) -> ResultRow:
    """Run ``task``: a failure of the codec (anything it raises, ``SystemExit`` included)
    becomes the row's ``error``; a failing metric only its own cell (:func:`measure`)."""
    loaded = task.with_image_loaded()
    if isinstance(loaded, ResultRow):
        return loaded
    task = loaded
    codec = task.codec
    assert task.image is not None  # loaded above
    image = task.image.view()
    image.flags.writeable = False  # a codec must not alter the reference the metrics use
    stage = "encode"
    try:
        start = time.perf_counter()
        data = codec.encode(image, task.quality)
        encode_s = time.perf_counter() - start
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"encode returned {type(data).__name__}, expected bytes")
        estimated_bits = getattr(data, "estimated_bits", None)
        data = bytes(data)
        stage = "decode"
        start = time.perf_counter()
        reconstruction = codec.decode(data)
        decode_s = time.perf_counter() - start
        stage = "check decoded image"
        check_rgb_image(reconstruction, "decoded image")
        if reconstruction.shape != image.shape:
            raise ValueError(
                f"decoded image has shape {reconstruction.shape}, expected {image.shape}"
            )
    except TaskTimeout:
        raise
    except BaseException as exc:  # noqa: BLE001 - even SystemExit costs only this row
        if isinstance(exc, KeyboardInterrupt):
            raise
        return task.row(error=describe_error(stage, exc))
    reconstruction = reconstruction.view()
    reconstruction.flags.writeable = False  # metrics share it
    values, metric_errors, set_features = measure(
        task.metrics, image, reconstruction, len(data), estimated_bits)
    return task.row(bytes=len(data), metrics=values, metric_errors=metric_errors,
                    encode_s=encode_s, decode_s=decode_s, set_features=set_features)


def measure(metrics, image: np.ndarray, reconstruction: np.ndarray, compressed_size: int,
            estimated_bits: float | None):
    """``(values, metric errors, set features)`` of one image: each metric on its own.

    A metric that raises, returns no number or a value its :class:`MetricSpec` rules out
    costs only its own cell (its message in the errors); a derived metric sees the values
    computed before it.
    """
    import numpy as np

    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    set_features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for metric in evaluation_order(metrics):
        try:
            if metric.scope == "set":
                set_metric = cast(SetMetric, metric)  # scope "set" is SetMetric's
                set_features[metric.name] = (
                    np.asarray(set_metric.features(image), dtype=np.float64),
                    np.asarray(set_metric.features(reconstruction), dtype=np.float64))
                continue
            value = metric.compute(Measurement(image, reconstruction, compressed_size,
                                               estimated_bits, MappingProxyType(values)))
            problem = metric.spec().problem(value)
            if problem:
                raise MetricValueError(problem)
            values[metric.name] = float(value)
        except TaskTimeout:
            raise
        except BaseException as exc:  # noqa: BLE001 - one metric's failure is its cell's
            if isinstance(exc, KeyboardInterrupt):
                raise
            errors[metric.name] = describe_error(f"metric {metric.name}", exc)
    return values, errors, set_features
