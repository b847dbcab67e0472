"""One task: encode one image at one quality, decode it, and measure it.

:func:`evaluate` never raises for a failure of the codec or a metric: the
failure becomes the row's ``error`` (``"<stage>: <Type>: <message>"``), so the
run goes on. The encode and decode times are wall-clock ``perf_counter``
durations of the ``encode`` and ``decode`` calls alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from codecbench.core.codec import Codec, Quality, quality_key
from codecbench.core.images import check_rgb_image
from codecbench.core.metric import Metric
from codecbench.core.results_schema import ResultRow


class TaskTimeout(Exception):
    """Raised inside a task by the serial executor's alarm."""


@dataclass
class Task:
    """Everything a worker needs to evaluate one codec × quality × image."""

    codec: Codec
    codec_version: str
    quality: Quality
    dataset: str
    image_id: str
    image: np.ndarray
    metrics: tuple[Metric, ...]

    def row(self, **fields) -> ResultRow:
        """A result row for this task, with the given measured fields."""
        height, width = self.image.shape[:2]
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
    """Run ``task``; any failure becomes the returned row's ``error``."""
    codec = task.codec
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
        values, set_features = {}, {}
        for metric in task.metrics:
            stage = f"metric {metric.name}"
            if metric.scope == "set":
                set_features[metric.name] = (
                    np.asarray(metric.features(image), dtype=np.float64),
                    np.asarray(metric.features(reconstruction), dtype=np.float64))
                continue
            if metric.uses_estimate:
                value = metric.compute(image, reconstruction, len(data), estimated_bits)
            else:
                value = metric.compute(image, reconstruction, len(data))
            values[metric.name] = float(value)
    except TaskTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error row
        return task.row(error=describe_error(stage, exc))
    return task.row(bytes=len(data), metrics=values, encode_s=encode_s, decode_s=decode_s,
                    set_features=set_features)
