"""codecbench.testing catches the faults it promises to catch, and passes good codecs,
metrics and datasets."""

from __future__ import annotations

import builtins
import io
import math
import os
import pickle
import re
import zlib

import numpy as np
import pytest

import codecs_for_tests as tc
from codecbench.api.dataset import Dataset
from codecbench.api.metric import Measurement, Metric, SetMetric
from codecbench.api.registry import Registry
from codecbench.datasets.builtin import SAMPLE_DIR, sample_dataset
from codecbench.datasets.folder import FolderDataset
from codecbench.metrics.basic import PSNR
from codecbench.testing import (
    CheckError,
    CodecCheckError,
    DatasetCheckError,
    MetricCheckError,
    check_codec,
    check_dataset,
    check_metric,
    file_access_log,
)

pytestmark = pytest.mark.no_frameworks

# -- codecs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["jpeg", "jpeg-444"])
def test_builtin_codecs_conform(name):
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow"])
    report = check_codec(registry.get("codecs", name))
    assert len(report.sizes) == 2


def test_lossless_reference_codec_conforms():
    # zlib levels are not rate points (level 9 is smaller than level 1): check one point,
    # and show that the rate property does catch the two levels.
    check_codec(tc.LosslessZlib(), qualities=[1])
    with pytest.raises(CodecCheckError, match="size decreases"):
        check_codec(tc.LosslessZlib())


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        (tc.Stateful(), "decode from bytes alone failed"),
        (tc.NonDeterministic(), "deterministic decode"),
        (tc.ShrinksWithQuality(), "rate grows with quality"),
        (tc.WrongShape(), "decoded shape"),
        (tc.WrongDtype(), "expected uint8"),
    ],
)
def test_faulty_codecs_are_caught(codec, message):
    with pytest.raises(CodecCheckError, match=message):
        check_codec(codec)


def test_bad_metadata_is_caught():
    codec = tc.LosslessZlib()
    codec.family = "transformer"
    codec.qualities = ()
    with pytest.raises(CodecCheckError, match="family must be one of.*\n.*qualities must be"):
        check_codec(codec)


class WritesItsInput(tc.LosslessZlib):
    name = "test/writes-input"

    def encode(self, image, quality):
        image[0, 0] = 0
        return super().encode(image, quality)


class Unavailable(tc.LosslessZlib):
    name = "test/unavailable"

    def availability(self):
        return False, "needs the frobnicator"


class BadVersionAndLibraries(tc.LosslessZlib):
    name = "test/bad-version"
    qualities = (1,)

    @property
    def version(self):
        return ""

    def library_versions(self):
        return {"zlib": 1}


class NotPicklable(tc.LosslessZlib):
    name = "test/not-picklable"
    qualities = (1,)

    def __reduce__(self):
        raise TypeError("holds a live handle")


class BadEstimate(tc.LosslessZlib):
    name = "test/bad-estimate"
    qualities = (1,)

    def estimate_bits(self, image, quality):
        return math.nan


def test_a_codec_writing_its_input_is_caught():
    with pytest.raises(CodecCheckError, match="read-only"):
        check_codec(WritesItsInput(), qualities=[1])


def test_every_codec_failure_is_reported_at_once():
    codec = BadVersionAndLibraries()
    codec.family = "transformer"
    with pytest.raises(CodecCheckError) as caught:
        check_codec(codec)
    message = str(caught.value)
    for part in ("family must be one of", "version must be a non-empty string",
                 "library_versions() must return a dict of str to str"):
        assert part in message
    with pytest.raises(CodecCheckError) as caught:
        check_codec(NotPicklable())
    message = str(caught.value)
    assert "picklable: pickle.dumps failed: TypeError: holds a live handle" in message
    assert "decode from bytes alone: not checked" in message
    with pytest.raises(CodecCheckError, match="estimate_bits on .* is nan"):
        check_codec(BadEstimate())


def test_an_unavailable_codec_is_one_clear_failure():
    codec = Unavailable()
    codec.framework = ""
    with pytest.raises(CodecCheckError) as caught:
        check_codec(codec)
    lines = str(caught.value).splitlines()
    assert lines[0] == "test/unavailable:"
    assert lines[1:] == ["  metadata: framework must be a non-empty string",
                         "  available: unavailable here: needs the frobnicator"]


def test_check_errors_share_one_base():
    assert all(issubclass(e, CheckError) and issubclass(e, AssertionError)
               for e in (CodecCheckError, MetricCheckError, DatasetCheckError))


# -- metrics --------------------------------------------------------------------------------


class MeanAbsoluteError(Metric):
    name = "test/mae"
    higher_is_better = False
    valid_range = (0.0, 255.0)
    description = "mean |x − y| over all RGB samples"

    def compute(self, measurement: Measurement) -> float:
        difference = measurement.reference.astype(np.int16) - measurement.reconstruction
        return float(np.abs(difference).mean())


class WritesItsInputs(MeanAbsoluteError):
    name = "test/writes-inputs"

    def compute(self, measurement):
        measurement.reconstruction[0, 0] = 0
        return super().compute(measurement)


class Noisy(MeanAbsoluteError):
    name = "test/noisy"

    def compute(self, measurement):
        return super().compute(measurement) + np.random.default_rng().uniform(0, 1)


class OutOfRange(MeanAbsoluteError):
    name = "test/out-of-range"
    valid_range = (0.0, 1.0)


class NanEverywhere(MeanAbsoluteError):
    name = "test/nan"

    def compute(self, measurement):
        return math.nan


class WrongDirection(MeanAbsoluteError):
    name = "test/wrong-direction"
    higher_is_better = True


class DependsOnSize(MeanAbsoluteError):
    name = "test/depends-on-size"
    valid_range = (0.0, math.inf)

    def compute(self, measurement):
        return super().compute(measurement) + measurement.compressed_size


class BytesPerPixel(Metric):
    """A rate metric: exempt from the distortion properties."""

    name = "test/bytes-per-pixel"
    unit = "bytes"
    higher_is_better = False
    valid_range = (0.0, math.inf)

    def compute(self, measurement):
        return measurement.compressed_size / measurement.pixels


class Derived(Metric):
    """1/(1+MAE), reusing the base's value when the harness passes it."""

    name = "test/derived"
    valid_range = (0.0, 1.0)
    derived_from = "test/mae"

    def compute(self, measurement):
        base = measurement.values.get("test/mae")
        if base is None:
            base = MeanAbsoluteError().compute(measurement)
        return 1.0 / (1.0 + base)


class DerivedInconsistently(Derived):
    name = "test/derived-inconsistently"

    def compute(self, measurement):
        return 0.5 if "test/mae" in measurement.values else super().compute(measurement)


class UnavailableMetric(MeanAbsoluteError):
    name = "test/unavailable-metric"

    def availability(self):
        return False, "no weights"


class ChannelMeans(SetMetric):
    """Per-image features: the mean colour of each 16×16 tile; distance: of the means."""

    name = "test/channel-means"
    higher_is_better = False
    valid_range = (0.0, math.inf)

    def features(self, image):
        height, width = (s - s % 16 for s in image.shape[:2])
        tiles = image[:height, :width].reshape(height // 16, 16, width // 16, 16, 3)
        return tiles.mean(axis=(1, 3)).reshape(-1, 3)

    def distance(self, real, fake):
        return float(np.abs(real.mean(axis=0) - fake.mean(axis=0)).sum())


class IntegerFeatures(ChannelMeans):
    name = "test/integer-features"

    def features(self, image):
        return super().features(image).astype(np.int64)


class InfiniteSelfDistance(ChannelMeans):
    name = "test/infinite-self-distance"
    allows_infinity = True

    def distance(self, real, fake):
        return math.inf


def test_good_metrics_conform():
    report = check_metric(MeanAbsoluteError())
    for values in report.values.values():
        assert values["identical"] == 0.0 < values["jpeg"]
    check_metric(PSNR())
    check_metric(BytesPerPixel())
    check_metric(Derived(), bases=[MeanAbsoluteError()])
    report = check_metric(ChannelMeans())
    assert report.distances["self"] == 0.0 < report.distances["degraded"]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (WritesItsInputs(), "compute writes to its inputs"),
        (Noisy(), "deterministic: "),
        (OutOfRange(), "outside its valid range"),
        (NanEverywhere(), "nan on every image"),
        (WrongDirection(), "identical images are best: .* against itself"),
        (DependsOnSize(), "independent of the file size"),
        (DerivedInconsistently(), "derived: .* computed alone, 0.5 with the values of test/mae"),
        (UnavailableMetric(), "available: unavailable here: no weights"),
        (IntegerFeatures(), "expected a 2-D float ndarray"),
        (InfiniteSelfDistance(), "distance: self: returned inf, expected a finite number"),
    ],
    ids=lambda value: getattr(value, "name", "message"),
)
def test_faulty_metrics_are_caught(metric, message):
    bases = [MeanAbsoluteError()] if metric.derived_from else []
    with pytest.raises(MetricCheckError, match=message):
        check_metric(metric, bases=bases)


def test_a_rate_metric_is_named_by_its_unit_or_by_the_caller():
    with pytest.raises(MetricCheckError, match="independent of the file size"):
        check_metric(BytesPerPixel(), rate=False)
    check_metric(DependsOnSize(), rate=True)


def test_every_metric_metadata_failure_is_reported_at_once():
    metric = MeanAbsoluteError()
    metric.name = "two\nlines"
    metric.unit = None
    metric.higher_is_better = "no"
    metric.version = ""
    metric.derived_from = 3
    with pytest.raises(MetricCheckError) as caught:
        check_metric(metric)
    message = str(caught.value)
    for part in ("name must be a non-empty one-line string", "unit must be a str",
                 "higher_is_better must be a bool", "version must be a non-empty string",
                 "derived_from must be None or a metric name", "values: not checked"):
        assert part in message
    metric = MeanAbsoluteError()
    metric.valid_range = (1.0, 0.0)
    with pytest.raises(MetricCheckError, match="low <= high"):
        check_metric(metric)


# -- datasets -------------------------------------------------------------------------------


def test_the_sample_set_conforms():
    report = check_dataset(sample_dataset())
    assert report.n_images == 6 and len(report.shapes) == 3
    assert report.content_hash.startswith("sha256:")
    assert len(check_dataset(sample_dataset(), max_images=1).shapes) == 1


class Synthetic(Dataset):
    """Images made from their ids: no files at all."""

    name = "test/synthetic"
    license = "CC0-1.0"
    source = "generated"
    ids = ["a", "b", "c"]

    def image_ids(self):
        return list(self.ids)

    def load(self, image_id):
        rng = np.random.default_rng(zlib.crc32(image_id.encode()))
        return rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)


class Duplicates(Synthetic):
    name = "test/duplicates"
    ids = ["a", "b", "a", 7]


class GrayImages(Synthetic):
    name = "test/gray"

    def load(self, image_id):
        return super().load(image_id)[:, :, 0].astype(np.float32)


class UnstableHash(Synthetic):
    name = "test/unstable-hash"
    calls = 0

    def content_hash(self):
        type(self).calls += 1
        return f"sha256:{type(self).calls}"


class ReadsOnUnpickle(FolderDataset):
    """Lists its folder when it is rebuilt, as a worker process does."""

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.files()


class NoLicense(Synthetic):
    name = "test/no-license"
    license = ""
    source = None


class Unpicklable(Synthetic):
    name = "test/unpicklable"

    def __reduce__(self):
        raise TypeError("holds an open file")


def test_a_synthetic_dataset_conforms():
    check_dataset(Synthetic())


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        (Duplicates(), r"duplicates: \['a'\]"),
        (Duplicates(), "ids must be non-empty strings, got \\[7\\]"),
        (GrayImages(), "returned an array of dtype float32 and shape \\(20, 24\\)"),
        (UnstableHash(), "stable content hash: 'sha256:1' on the dataset, 'sha256:2'"),
        (ReadsOnUnpickle(SAMPLE_DIR, name="test/reads"),
         "no I/O on construction: unpickling .*os.listdir\\(.*sample\\)"),
        (NoLicense(), "license must be a non-empty string.*\n.*source must be"),
        (Unpicklable(), "picklable: pickle.dumps failed: TypeError: holds an open file"),
    ],
    ids=lambda value: getattr(value, "name", "message"),
)
def test_faulty_datasets_are_caught(dataset, message):
    with pytest.raises(DatasetCheckError, match=message):
        check_dataset(dataset)


def test_bad_ids_are_not_also_reported_as_a_pickling_difference():
    with pytest.raises(DatasetCheckError) as caught:
        check_dataset(Duplicates())
    assert "picklable" not in str(caught.value)


def test_the_file_access_log_sees_file_reads_and_listings(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"1")
    with file_access_log() as reads:
        path.read_bytes()
        list(tmp_path.iterdir())
        pickle.loads(pickle.dumps(sample_dataset()))
    assert reads == [f"Path.open({path})", f"io.open({path})", f"os.listdir({tmp_path})"]
    assert builtins.open is io.open and os.listdir.__module__ == "posix"  # restored


class ListsOnConstruction(FolderDataset):
    def __init__(self):
        super().__init__(SAMPLE_DIR, name="test/lists")
        self.files()


def test_construction_is_watched_when_the_check_builds_the_dataset(tmp_path):
    check_dataset(sample_dataset)
    check_dataset(lambda: Synthetic())
    with pytest.raises(DatasetCheckError) as caught:
        check_dataset(ListsOnConstruction)
    assert str(caught.value).count("\n") == 1  # the only failure
    assert re.search(r"constructing the dataset touched files: .*os.listdir\(.*sample\)",
                     str(caught.value))
    with pytest.raises(DatasetCheckError, match="<lambda>:\n  construction raised DatasetNotFoundError"):
        check_dataset(lambda: FolderDataset(tmp_path / "missing", name="x").files())
