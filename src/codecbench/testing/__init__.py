"""Conformance checks for plugin authors: :func:`check_codec`, :func:`check_metric` and
:func:`check_dataset`.

Use them in your plugin's test suite::

    from codecbench.testing import check_codec, check_dataset, check_metric

    def test_my_codec_conforms():
        check_codec(MyCodec())

    def test_my_metric_conforms():
        check_metric(MyMetric())

    def test_my_dataset_conforms():
        check_dataset(MyDataset())

Each check runs every property it knows, collects every failure and raises one
:class:`CheckError` (:class:`CodecCheckError`, :class:`MetricCheckError`,
:class:`DatasetCheckError`) whose message lists them all, one per line; on success it
returns a report of what it measured.

:func:`check_codec`:

* **metadata**: ``name``, ``family``, ``framework``, ``qualities``, a non-empty
  ``version`` string, ``library_versions()`` a ``{str: str}`` dict, ``in_default_run`` a
  bool, ``description`` a string;
* **available**: ``availability()`` returns ``(bool, str)``; an unavailable codec is one
  failure quoting its reason, and the checks that need the codec to run are skipped;
* **picklable**: the codec survives ``pickle`` (the process executor needs it);
* **round trip**: ``decode(encode(x, q))`` is a ``uint8`` array of ``x``'s shape, for
  every quality, on real photos (crops of the bundled sample set, an odd size among
  them), given as read-only arrays as the harness does (``encode`` must not write to its
  input);
* **decode from bytes alone**: a copy of the codec taken *before* any encode call decodes
  the bytes to the same image, even after the original codec has encoded another image in
  between (no state leaks from encoder to decoder);
* **deterministic decode**: decoding the same bytes twice gives identical pixels;
* **rate grows with quality**: file sizes do not decrease along ``qualities``, and the
  last is larger than the first;
* **estimate**: a :class:`~codecbench.api.codec.Bitstream`'s ``estimated_bits``, and
  ``estimate_bits(image, quality)`` when the codec offers it, are finite positive numbers.

:func:`check_metric`:

* **metadata**: ``name`` (non-empty, one line), ``unit`` (str), ``higher_is_better``
  (bool), ``valid_range`` (a ``(low, high)`` pair of numbers, ``low ≤ high``),
  ``allows_infinity`` and ``rd_axis`` (bool), ``version`` (non-empty str),
  ``derived_from`` (``None`` or a str), ``description`` (str), ``scope`` (``"image"`` or
  ``"set"``);
* **picklable**, and **available**: as for codecs (an unavailable metric is one failure,
  and the value checks are skipped);
* **values**: on real photo crops (:func:`metric_crops`) compared with themselves, with a
  JPEG-compressed copy and with a noisy copy, ``compute`` returns a number that its
  :class:`~codecbench.api.metric.MetricSpec` accepts (inside ``valid_range``; ``±inf``
  only with ``allows_infinity``); ``nan`` ("does not apply") is accepted on some
  images, a ``nan`` on every image is a failure;
* **deterministic**: the same measurement twice gives the same value;
* **inputs untouched**: the images are passed read-only (a write raises, and is reported
  as such);
* **identical images are best**: the value of an image against itself is not worse, in the
  metric's direction, than against either degraded copy;
* **independent of the file size**: a distortion metric gives the same value when
  ``compressed_size`` and ``estimated_bits`` change. A *rate* metric (its unit is a rate
  unit such as ``bpp``, or ``rate=True``) is exempt from this and from the previous
  property;
* **derived metrics**: with ``bases`` given, the value computed with the base metrics'
  values in :attr:`~codecbench.api.metric.Measurement.values` (as the harness passes
  them) equals the value computed without them;
* for a :class:`~codecbench.api.metric.SetMetric` instead of ``compute``: ``features``
  returns a finite 2-D float array of the same width for every image, deterministically,
  and ``distance`` of the features with themselves and with the degraded images' features
  is finite and inside ``valid_range``.

:func:`check_dataset`:

* **metadata**: ``name`` (non-empty, one line), ``version``, ``license`` and ``source``
  (non-empty strings), ``description`` (a string); ``status()`` a non-empty string;
* **picklable** (a copy has the same metadata, ids and hash), and **no I/O on
  construction** (nor when unpickled or when its metadata is read): see
  :func:`check_dataset`;
* **image ids**: ``image_ids()`` is a non-empty list of distinct strings, ``len()`` agrees;
* **images**: the first ``max_images`` ids load as ``H×W×3`` uint8 RGB arrays, the same
  twice, and iteration starts with the first id and its image;
* **stable content hash**: ``content_hash()`` is a non-empty string, the same on the
  dataset and on a pickled copy.
"""


from codecbench.testing.codec_checks import check_codec
from codecbench.testing.dataset_checks import check_dataset, file_access_log
from codecbench.testing.metric_checks import check_metric
from codecbench.testing.photos import metric_crops, sample_crops
from codecbench.testing.reports import (
    CheckError,
    CodecCheckError,
    CodecCheckReport,
    DatasetCheckError,
    DatasetCheckReport,
    MetricCheckError,
    MetricCheckReport,
)

__all__ = [
    "CheckError", "CodecCheckError", "CodecCheckReport", "DatasetCheckError",
    "DatasetCheckReport", "MetricCheckError", "MetricCheckReport", "check_codec",
    "check_dataset", "check_metric", "file_access_log", "metric_crops", "sample_crops",
]
