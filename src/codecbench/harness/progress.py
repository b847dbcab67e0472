"""The run's progress bar on stderr: a tqdm bar when it is shown; when it is not, a
stand-in that does nothing, and tqdm is not imported."""

from __future__ import annotations

import sys
from typing import Protocol


class ProgressBar(Protocol):
    """What the run uses of a bar: a context manager counting finished tasks."""

    def update(self, n: int = 1) -> object: ...

    def __enter__(self) -> ProgressBar: ...

    def __exit__(self, *exc: object) -> object: ...


class _Hidden:
    """The bar of a run without progress output."""

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _Hidden:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress_bar(total: int, shown: bool) -> ProgressBar:
    """A bar over ``total`` tasks, drawn on stderr when ``shown``."""
    if not shown:
        return _Hidden()
    from tqdm import tqdm

    return tqdm(total=total, desc="codecbench", unit="task", file=sys.stderr,
                dynamic_ncols=True)
