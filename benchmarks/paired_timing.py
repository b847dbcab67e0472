"""Shared by the overhead benchmarks: one timed call, and one harness run on the sample set."""

from __future__ import annotations

import time
from pathlib import Path


def timed(function, *args) -> float:
    """Wall-clock seconds of ``function(*args)``."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def harness_on_sample(codec, out_dir: Path, executor: str = "in-process"):
    """``run_evaluation`` of ``codec`` on the sample set, bpp and PSNR, one task at a time:
    in this process (the harness's own bookkeeping), or ``executor="process"`` (one
    isolated worker, the default of ``codecbench run``: adds the worker's start-up and the
    transfer of codec, image and row)."""
    from codecbench.datasets.builtin import sample_dataset
    from codecbench.harness.runner import run_evaluation
    from codecbench.metrics.basic import PSNR, BitsPerPixel

    return run_evaluation([codec], sample_dataset(), [BitsPerPixel(), PSNR()], out_dir,
                          jobs=1, executor=executor, progress=False)
