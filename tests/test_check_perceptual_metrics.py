"""The perceptual metrics pass ``check_metric`` when their networks are present.

Without the ImageNet weights they are unavailable (and skipped by
``test_check_every_codec.py``); here they run on randomly initialised networks saved under
the names the plugins look for, which exercises the same code on one 64×64 crop of a real
photo. (FID and KID are checked by ``test_set_metrics.py``: their random Inception takes
far longer.)
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from codecbench.api.registry import Registry  # noqa: E402
from codecbench.testing import check_metric, sample_crops  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "name",
    ["lpips-alex", "lpips-vgg", "dists"],
)
def test_perceptual_metric_passes_check_metric(with_weights, name):
    registry = Registry(strict=True)
    registry.load_entry_points(only=["metrics-perceptual"])
    metric = registry.get("metrics", name)
    assert metric.availability() == (True, "")
    crop = np.ascontiguousarray(sample_crops()[0][1][:64, :64])
    report = check_metric(metric, images=[("crop64", crop)])
    assert report.values["crop64"]["identical"] == pytest.approx(0.0, abs=1e-6)
