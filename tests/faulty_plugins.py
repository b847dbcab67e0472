"""Codecs and metrics that misbehave on purpose (importable by spawned workers)."""

from __future__ import annotations

import math
import os
import time

import numpy as np

from codecbench import hookimpl
from codecbench.api.metric import Measurement, Metric
from codecs_for_tests import LosslessZlib, Sleepy


class ExitsRun(LosslessZlib):
    """``sys.exit(0)`` in encode at quality 9."""

    name = "test/sys-exit"

    def encode(self, image, quality):
        if int(quality) == 9:
            raise SystemExit(0)
        return super().encode(image, quality)


class HardExit(LosslessZlib):
    """``os._exit(0)`` in encode at quality 9: the process ends with status 0."""

    name = "test/os-exit"

    def encode(self, image, quality):
        if int(quality) == 9:
            os._exit(0)
        return super().encode(image, quality)


class SwallowsEverything(LosslessZlib):
    """At quality 9, loops forever catching ``Exception`` (defeats an Exception alarm)."""

    name = "test/swallows"

    def encode(self, image, quality):
        if int(quality) == 9:
            while True:
                try:
                    time.sleep(0.01)
                except Exception:  # noqa: BLE001, S110 - the fault under test
                    pass
        return super().encode(image, quality)


class MeanAbsoluteError(Metric):
    """A plugin metric, lower is better, declared an RD axis."""

    name = "test-mae"
    unit = "levels"
    higher_is_better = False
    valid_range = (0.0, 255.0)
    rd_axis = True
    version = os.environ.get("CODECBENCH_TEST_METRIC_VERSION", "1")
    description = "mean |reference − reconstruction| over RGB samples"

    def compute(self, measurement: Measurement) -> float:
        difference = measurement.reference.astype(np.int16) - measurement.reconstruction
        return float(np.abs(difference).mean())


class Raises(Metric):
    name = "test-raises"
    description = "always raises"

    def compute(self, measurement: Measurement) -> float:
        raise RuntimeError("metric exploded\ron purpose")


class ReturnsNone(Metric):
    name = "test-none"

    def compute(self, measurement: Measurement):
        return None


class OutOfRange(Metric):
    name = "test-out-of-range"
    valid_range = (0.0, 1.0)

    def compute(self, measurement: Measurement) -> float:
        return 2.0


class NotApplicable(Metric):
    """``nan`` everywhere: an empty cell, not an error."""

    name = "test-nan"

    def compute(self, measurement: Measurement) -> float:
        return math.nan


@hookimpl
def register_codecs(register):
    register(ExitsRun())
    register(HardExit())
    register(SwallowsEverything())
    register(Sleepy())


@hookimpl
def register_metrics(register):
    register(MeanAbsoluteError())
    register(Raises())
    register(ReturnsNone())
    register(OutOfRange())
