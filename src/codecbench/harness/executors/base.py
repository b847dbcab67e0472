"""The executor contract: what the harness asks of whatever runs its tasks.

An executor takes :class:`~codecbench.harness.task.Task` objects and yields exactly one
:class:`~codecbench.harness.schema.ResultRow` per task, in any order; the harness (the
only writer of the results store) stores each row as it comes. A third-party executor
subclasses :class:`Executor` and is registered through the ``register_executors`` hook
(:class:`codecbench.api.executor.ExecutorType`).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator

from codecbench.harness.schema import ResultRow
from codecbench.harness.task import Task


class Executor(abc.ABC):
    """Runs tasks and yields one :class:`ResultRow` per task, in any order."""

    reads_images = False
    """``True``: tasks come without their image (``task.image is None``) and with the
    dataset (``task.source``); the executor reads the image where the task runs
    (:meth:`~codecbench.harness.task.Task.with_image_loaded`, which :func:`evaluate` calls)."""

    def __init__(self, timeout: float | None = None):
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout

    @abc.abstractmethod
    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        """Evaluate every task; every task yields exactly one row."""

    def close(self) -> None:
        """Release workers. Safe to call twice."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def timeout_row(self, task: Task) -> ResultRow:
        return task.row(error=f"timeout: task did not finish within {self.timeout:g} s")

    def describe(self) -> dict:
        """What ``run.json`` records of the executor (its name and resources)."""
        return {"name": type(self).__name__}
