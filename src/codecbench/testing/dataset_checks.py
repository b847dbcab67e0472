"""``check_dataset``: the dataset contract (see :mod:`codecbench.testing`)."""

from __future__ import annotations

import builtins
import io
import os
import pathlib
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from codecbench.api.dataset import Dataset
from codecbench.testing.reports import (
    DatasetCheckError,
    DatasetCheckReport,
    describe,
    is_one_line,
    raise_if_failed,
)

DATASET_METADATA = ("name", "version", "license", "source", "description")


@contextmanager
def file_access_log() -> Iterator[list[str]]:
    """Record the file-system reads made inside the block (``open`` / ``io.open``,
    ``Path.open``, ``os.open``, ``os.scandir``, ``os.listdir``) as ``"function(path)"``.

    Python's import system reads modules through its own bindings (``io.open_code`` and
    the ``posix`` functions), so imports do not show up. The functions are replaced
    process-wide while the block runs: keep it short and single-threaded.
    """
    events: list[str] = []
    originals: list[tuple[object, str, Callable]] = []

    def spy(owner: object, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def recording(*args, **kwargs):
            target = args[0] if args else next(iter(kwargs.values()), ".")
            if isinstance(target, (str, bytes, os.PathLike)):
                target = os.fsdecode(target)
            events.append(f"{label}({target})")
            return original(*args, **kwargs)

        originals.append((owner, attribute, original))
        setattr(owner, attribute, recording)

    spy(builtins, "open", "open")
    spy(io, "open", "io.open")
    spy(pathlib.Path, "open", "Path.open")
    for name in ("open", "scandir", "listdir"):
        spy(os, name, f"os.{name}")
    try:
        yield events
    finally:
        for owner, attribute, original in reversed(originals):
            setattr(owner, attribute, original)


def check_dataset(dataset: Dataset | Callable[[], Dataset],
                  max_images: int = 3) -> DatasetCheckReport:
    """Check every dataset property listed in the module docstring.

    ``dataset`` is an instance, or what builds one: the class, or a function without
    arguments (``lambda: MyDataset(root)``).

    **No I/O on construction** is observed with :func:`file_access_log`: any file opened
    or directory listed is a failure that names them. Given what builds the dataset, the
    construction itself runs inside the log. An instance was built before the check could
    watch; then what is watched is what stands for a new instance afterwards: a copy made
    by ``pickle.loads`` (the class's ``__setstate__``/``__reduce__`` logic; ``__init__``
    does not run) and the reads of ``name``, ``version``, ``license``, ``source`` and
    ``description`` that listings and ``run.json`` make.

    ``max_images`` ids (the first ones) are loaded. Reading images may download a
    downloadable dataset: check such a dataset once it is cached.
    Raises :class:`DatasetCheckError` listing every failure.
    """
    fail_early: list[str] = []
    if callable(dataset) and not isinstance(dataset, Dataset):
        build = dataset
        with file_access_log() as reads:
            try:
                dataset = build()
            except Exception as exc:  # noqa: BLE001
                label = getattr(build, "__name__", repr(build))
                raise DatasetCheckError(f"{label}:\n  construction raised "
                                        f"{describe(exc)}") from exc
        if reads:
            fail_early.append("no I/O on construction: constructing the dataset touched "
                              f"files: {', '.join(dict.fromkeys(reads))}")
    report = DatasetCheckReport(dataset=str(getattr(dataset, "name", dataset)))
    report.failures.extend(fail_early)
    fail = report.failures.append

    copy = None
    try:
        data = pickle.dumps(dataset)
    except Exception as exc:  # noqa: BLE001
        fail(f"picklable: pickle.dumps failed: {describe(exc)}")
        data = None
    metadata: dict[str, object] = {}
    with file_access_log() as reads:
        if data is not None:
            try:
                copy = pickle.loads(data)
            except Exception as exc:  # noqa: BLE001
                fail(f"picklable: pickle.loads failed: {describe(exc)}")
        for attribute in DATASET_METADATA:
            try:
                metadata[attribute] = getattr(copy if copy is not None else dataset,
                                              attribute, None)
            except Exception as exc:  # noqa: BLE001
                metadata[attribute] = exc
    if reads:
        what = "unpickling the dataset and reading" if data is not None else "reading"
        fail(f"no I/O on construction: {what} its metadata touched files: "
             f"{', '.join(dict.fromkeys(reads))}")
    for attribute, value in metadata.items():
        if isinstance(value, Exception):
            fail(f"metadata: {attribute} raised {describe(value)}")
        elif attribute == "name":
            if not is_one_line(value):
                fail(f"metadata: name must be a non-empty one-line string, got {value!r}")
        elif attribute == "description":
            if not isinstance(value, str):
                fail(f"metadata: description must be a string, got {value!r}")
        elif not isinstance(value, str) or not value.strip():
            fail(f"metadata: {attribute} must be a non-empty string, got {value!r}")
        if (copy is not None and not isinstance(value, Exception)
                and getattr(dataset, attribute, None) != value):
            fail(f"picklable: {attribute} of the pickled copy is {value!r}, not "
                 f"{getattr(dataset, attribute, None)!r}")
    try:
        status = dataset.status()
        if not isinstance(status, str) or not status.strip():
            fail(f"metadata: status() must return a non-empty string, got {status!r}")
    except Exception as exc:  # noqa: BLE001
        fail(f"metadata: status() raised {describe(exc)}")

    ids, listed = _check_image_ids(dataset, fail)
    report.n_images = len(ids)
    if copy is not None and listed:
        try:
            copied_ids = list(copy.image_ids())
        except Exception as exc:  # noqa: BLE001
            fail(f"picklable: image_ids() of the pickled copy raised {describe(exc)}")
        else:
            if copied_ids != listed:
                fail(f"picklable: the pickled copy has other image ids ({len(copied_ids)} "
                     f"ids, first {copied_ids[:3]!r}; the dataset: {ids[:3]!r})")
    for image_id in list(dict.fromkeys(ids))[:max_images]:
        try:
            image = dataset.load(image_id)
            again = dataset.load(image_id)
        except Exception as exc:  # noqa: BLE001
            fail(f"images: load({image_id!r}) raised {describe(exc)}")
            continue
        problem = _rgb_problem(image)
        if problem:
            fail(f"images: load({image_id!r}) returned {problem}, expected H×W×3 uint8 RGB")
            continue
        report.shapes[image_id] = tuple(image.shape)
        if not (isinstance(again, np.ndarray) and np.array_equal(image, again)):
            fail(f"images: two loads of {image_id!r} differ")
    if ids:
        try:
            first_id, first_image = next(iter(dataset))
            if first_id != ids[0] or not np.array_equal(first_image, dataset.load(ids[0])):
                fail(f"images: iteration starts with {first_id!r}, not with {ids[0]!r} "
                     "and its image")
        except Exception as exc:  # noqa: BLE001
            fail(f"images: iterating raised {describe(exc)}")

    try:
        first = dataset.content_hash()
        if not isinstance(first, str) or not first.strip():
            fail(f"stable content hash: content_hash() returned {first!r}, expected a "
                 "non-empty string")
        elif copy is not None:
            second = copy.content_hash()
            if second != first:
                fail(f"stable content hash: {first!r} on the dataset, {second!r} on a pickled "
                     "copy")
        report.content_hash = first if isinstance(first, str) else ""
    except Exception as exc:  # noqa: BLE001
        fail(f"stable content hash: content_hash() raised {describe(exc)}")
    raise_if_failed(DatasetCheckError, report.dataset, report.failures)
    return report


def _check_image_ids(dataset: Dataset, fail) -> tuple[list[str], list]:
    """``(the string ids, every id as listed)`` of ``dataset``, failing on bad ones."""
    try:
        ids = dataset.image_ids()
    except Exception as exc:  # noqa: BLE001
        fail(f"image ids: image_ids() raised {describe(exc)}")
        return [], []
    if not isinstance(ids, (list, tuple)):
        fail(f"image ids: image_ids() must return a list, got {type(ids).__name__}")
        ids = list(ids)
    if not ids:
        fail("image ids: the dataset has no images")
    bad = [i for i in ids if not isinstance(i, str) or not i]
    if bad:
        fail(f"image ids: ids must be non-empty strings, got {bad[:5]!r}")
    seen: set = set()
    # set.add returning None is the point of the idiom: it marks i as seen
    duplicates = sorted({str(i) for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if duplicates:
        fail(f"image ids: duplicates: {duplicates[:5]!r}")
    try:
        if len(dataset) != len(ids):
            fail(f"image ids: len() is {len(dataset)}, image_ids() has {len(ids)}")
    except Exception as exc:  # noqa: BLE001
        fail(f"image ids: len() raised {describe(exc)}")
    return [i for i in ids if isinstance(i, str)], list(ids)


def _rgb_problem(image: object) -> str:
    if not isinstance(image, np.ndarray):
        return type(image).__name__
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        return f"an array of dtype {image.dtype} and shape {image.shape}"
    return ""
