"""The real photos the checks run on: crops of the bundled sample photos."""

from __future__ import annotations

import numpy as np


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
