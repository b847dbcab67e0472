"""The example plugin's own tests: run them with ``pytest`` once the plugin is installed
(``pip install -e .``)."""

from __future__ import annotations

import numpy as np
import pytest
from codecbench_plugin_example.plugin import MeanAbsoluteError, QuantizeZlib

from codecbench.api.metric import Measurement
from codecbench.api.registry import Registry
from codecbench.testing import check_codec, check_metric, sample_crops


def test_codec_conforms():
    report = check_codec(QuantizeZlib())
    for sizes in report.sizes.values():
        assert list(sizes) == ["2", "3", "4", "5", "6", "7"]


def test_metric_conforms():
    report = check_metric(MeanAbsoluteError())
    for values in report.values.values():
        assert values["identical"] == 0.0 < values["jpeg"]


@pytest.mark.parametrize("k", QuantizeZlib.qualities)
def test_quantisation_error_bound(k):
    """|v − v'| ≤ 2^(7−k) for every sample, so the mean absolute error is bounded too."""
    codec, metric = QuantizeZlib(), MeanAbsoluteError()
    for _image_id, image in sample_crops():
        data = codec.encode(image, k)
        decoded = codec.decode(data)
        assert np.abs(image.astype(int) - decoded).max() <= 2 ** (7 - k)
        assert metric.compute(Measurement(image, decoded, len(data))) <= 2 ** (7 - k)


def test_registered_through_the_entry_point():
    registry = Registry(strict=True)
    registry.load_entry_points(only=["quantize-zlib"])
    info = registry.plugins["quantize-zlib"]
    assert info.distribution == "codecbench-plugin-example"
    assert info.registered["codecs"] == ["example/quantize-zlib"]
    assert info.registered["metrics"] == ["example/mae"]
