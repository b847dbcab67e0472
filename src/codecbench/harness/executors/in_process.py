"""The in-process executor (``--executor in-process``): tasks one after the other in this
process, for debugging with a debugger or a profiler.

It is **unprotected**: a codec calling ``os._exit``, crashing the interpreter or blocking
in native code ends or hangs the run. Its per-task timeout is a ``SIGALRM`` that raises
:class:`~codecbench.harness.task.TaskTimeout`, a ``BaseException`` (a codec's
``except Exception`` does not swallow it), so it interrupts Python code only.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from typing import cast

from codecbench.harness.executors.base import Executor
from codecbench.harness.schema import ResultRow
from codecbench.harness.task import Task, TaskTimeout, evaluate


class InProcessExecutor(Executor):
    """In-process, one task at a time; unprotected (see the module docstring)."""

    def describe(self) -> dict:
        return {"name": "in-process", "workers": 1}

    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        use_alarm = self.timeout is not None and threading.current_thread() is threading.main_thread()
        for task in tasks:
            if not use_alarm:
                yield evaluate(task)
                continue
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, cast(float, self.timeout))  # use_alarm: not None
            try:
                row = evaluate(task)
            except TaskTimeout:
                row = self.timeout_row(task)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            yield row


def _raise_timeout(signum, frame):
    raise TaskTimeout()
