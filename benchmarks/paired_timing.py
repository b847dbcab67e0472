"""Shared by the overhead benchmarks: one timed call, and one harness run on the sample set."""

from __future__ import annotations

import time
from pathlib import Path


def timed(function, *args) -> float:
    """Wall-clock seconds of ``function(*args)``."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def harness_on_sample(codec, out_dir: Path):
    """``run_evaluation`` of ``codec`` on the sample set, bpp and PSNR, in-process (-j 1)."""
    from codecbench.datasets.builtin import sample_dataset
    from codecbench.evaluators.metrics.basic import PSNR, BitsPerPixel
    from codecbench.evaluators.runner import run_evaluation

    return run_evaluation([codec], sample_dataset(), [BitsPerPixel(), PSNR()], out_dir,
                          jobs=1, progress=False)
