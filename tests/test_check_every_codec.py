"""Every registered codec, metric and dataset passes ``codecbench.testing``.

Classical codecs run the full check (every quality, the two sample crops). Learned codecs
(marked slow) run it on one 64×64 crop of a real photo at a few of their qualities — the
first and last, plus the second for codecs with more than five (RNN iteration counts,
WaveOne bitplanes) — on the shipped weights. Codecs, metrics and datasets that are not
available here are skipped with their reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.api.registry import Registry
from codecbench.testing import (
    check_codec,
    check_dataset,
    check_metric,
    file_access_log,
    sample_crops,
)

# Datasets whose images are on this machine (a downloadable one is only checked once cached:
# reading it would download it).
LOCAL_STATUSES = {"available", "bundled", "cached", "local copy found"}
FRAMEWORK_MODULES = {"torch": ("torch", "compressai"),
                     "tensorflow": ("tensorflow", "tensorflow_compression")}
WEIGHTS_VARIABLES = ("CODECBENCH_TORCH_WEIGHTS", "CODECBENCH_TF_WEIGHTS",
                     "CODECBENCH_TORCH_DEVICE", "CODECBENCH_TF_DEVICE")


def _registry() -> Registry:
    registry = Registry(strict=False)
    registry.load_entry_points()
    return registry


REGISTRY = _registry()  # registration is cheap: nothing heavy is imported here


def _codec_params():
    params = []
    for name in REGISTRY.names("codecs"):
        codec = REGISTRY.get("codecs", name)
        marks = [] if codec.family == "classical" else [pytest.mark.slow]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture
def shipped_weights(monkeypatch):
    """The learned codecs use their shipped weights on the CPU."""
    for variable in WEIGHTS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def _available(obj):
    available, reason = obj.availability()
    if not available:
        pytest.skip(f"unavailable here: {reason}")
    return obj


def few_qualities(qualities) -> list:
    """First and last; also the second when there are more than five."""
    qualities = list(qualities)
    if len(qualities) <= 2:
        return qualities
    if len(qualities) > 5:
        return [qualities[0], qualities[1], qualities[-1]]
    return [qualities[0], qualities[-1]]


@pytest.fixture(scope="module")
def small_crop():
    """64×64 of a real photo (textured: hair, rocket, background)."""
    return np.ascontiguousarray(sample_crops()[0][1][:64, :64])


@pytest.mark.parametrize("name", _codec_params())
def test_codec_passes_check_codec(name, shipped_weights, small_crop):
    codec = REGISTRY.get("codecs", name)
    if codec.family == "classical":
        check_codec(_available(codec))
        return
    for module in FRAMEWORK_MODULES.get(codec.framework, ()):
        pytest.importorskip(module)
    report = check_codec(_available(codec), images=[("crop64", small_crop)],
                         qualities=few_qualities(codec.qualities))
    assert report.sizes["crop64"]


def test_the_check_covers_every_family():
    families = {REGISTRY.get("codecs", n).family for n in REGISTRY.names("codecs")}
    assert {"classical", "cnn", "rnn", "gan"} <= families
    frameworks = {REGISTRY.get("codecs", n).framework for n in REGISTRY.names("codecs")}
    assert {"torch", "tensorflow"} <= frameworks


def test_every_builtin_plugin_loads():
    builtin = [p for p in REGISTRY.plugins.values() if p.distribution == "codecbench"]
    assert len(builtin) >= 11
    assert [e for p in builtin for e in p.errors] == []


@pytest.mark.parametrize("name", REGISTRY.names("metrics"))
def test_metric_passes_check_metric(name):
    metric = _available(REGISTRY.get("metrics", name))
    bases = [REGISTRY.get("metrics", metric.derived_from)] if metric.derived_from else []
    images = None
    if metric.scope == "set":  # FID and KID cut 256×256 patches: whole photos
        sample = REGISTRY.get("datasets", "sample")
        images = [(image_id, sample.load(image_id)) for image_id in sample.image_ids()[:2]]
    check_metric(metric, images=images, bases=bases)


@pytest.mark.parametrize("kind", ["codecs", "datasets", "metrics"])
def test_registration_constructs_without_reading_files(kind):
    """Every plugin's register hook builds its objects without touching a file (datasets:
    no I/O on construction; codecs and metrics load weights on first use)."""
    hook = getattr(REGISTRY.manager.hook, f"register_{kind}")
    for impl in hook.get_hookimpls():
        built: list = []
        with file_access_log() as reads:
            impl.function(*[built.append if a == "register" else None for a in impl.argnames])
        assert reads == [], f"plugin {impl.plugin_name!r} read files while registering {kind}"


@pytest.mark.parametrize("name", REGISTRY.names("datasets"))
def test_dataset_passes_check_dataset(name):
    dataset = REGISTRY.get("datasets", name)
    status = dataset.status()
    if status not in LOCAL_STATUSES:
        pytest.skip(f"not on this machine ({status})")
    check_dataset(dataset)
