"""Images loaded one ahead: the next image is read and decoded while the current one's
tasks run.

A run's tasks come image by image (each image once per worker, :mod:`.executors`), so
between two images the workers would wait for the run's process to read and decode the
next one — a PNG or WebP photo costs 10–50 ms, a large TIFF more. :func:`images_ahead`
loads image ``k + 1`` in a background thread while the tasks of image ``k`` are handed
out, which the process spends mostly waiting for its workers. It holds at most two images
itself (the one it yielded last and the next); an executor reading tasks ahead may still
hold an earlier one.

The loads still happen one at a time, in the order of the run, so a dataset sees the same
calls as without the thread — from another thread, though. A load that fails there is
tried once more in the run's own thread, so a dataset bound to its thread (an SQLite
connection, say) still loads its images, and a file that cannot be read gives the same
one-line error either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from codecbench.api.dataset import Dataset
from codecbench.harness.task import describe_error

if TYPE_CHECKING:
    import numpy as np


class _Load:
    """One image's load, started in a daemon thread (a run interrupted meanwhile does not
    wait for it)."""

    def __init__(self, load: Callable[[str], np.ndarray], image_id: str):
        self.image_id = image_id
        self.image: np.ndarray | None = None
        self.failed = False
        self._thread = threading.Thread(target=self._run, args=(load,), daemon=True,
                                        name="codecbench-image-prefetch")
        self._thread.start()

    def _run(self, load) -> None:
        try:
            self.image = load(self.image_id)
        except BaseException:  # noqa: BLE001 - retried in the run's thread, which reports it
            self.failed = True

    def wait(self) -> None:
        self._thread.join()


def images_ahead(dataset: Dataset,
                 image_ids: Sequence[str]) -> Iterator[tuple[str, np.ndarray | None, str]]:
    """``(image_id, image, error)`` for each of ``image_ids`` in order: the image, or
    ``None`` and a one-line error when it cannot be loaded. The next image loads while the
    caller works on the one yielded."""
    pending = _Load(dataset.load, image_ids[0]) if image_ids else None
    for index, image_id in enumerate(image_ids):
        assert pending is not None
        pending.wait()
        image, error = pending.image, ""
        if pending.failed:  # again in this thread, before the next load starts
            try:
                image = dataset.load(image_id)
            except Exception as exc:  # noqa: BLE001
                image, error = None, describe_error("load image", exc)
        pending = (_Load(dataset.load, image_ids[index + 1])
                   if index + 1 < len(image_ids) else None)
        yield image_id, image, error
