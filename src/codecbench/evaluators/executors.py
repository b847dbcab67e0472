"""Executors: how tasks are run. The harness talks only to :class:`Executor`.

* :class:`SerialExecutor` runs tasks one after the other in this process
  (``-j 1``). Its per-task timeout uses ``SIGALRM``: it interrupts Python code,
  but a call stuck inside native code that never returns to the interpreter
  can only be stopped by the process executor.
* :class:`ProcessExecutor` runs tasks in ``N`` worker processes (``-j N``),
  one task per worker at a time. A task past its timeout, or a worker that
  dies (segfault, out of memory), costs only that task: the worker is killed
  and replaced, and the task becomes an error row.

A new executor (Ray, a cluster queue) implements :meth:`Executor.run` and
nothing else changes.
"""

from __future__ import annotations

import abc
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait

from codecbench.core.results_schema import ResultRow
from codecbench.evaluators.task import Task, TaskTimeout, describe_error, evaluate


class Executor(abc.ABC):
    """Runs tasks and yields one :class:`ResultRow` per task, in any order."""

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


class SerialExecutor(Executor):
    """In-process, one task at a time."""

    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        use_alarm = self.timeout is not None and threading.current_thread() is threading.main_thread()
        for task in tasks:
            if not use_alarm:
                yield evaluate(task)
                continue
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
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


def _worker_main(connection) -> None:
    """Worker loop: receive a task, send back its row; ``None`` stops the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        connection.send(evaluate(task))


class _Worker:
    def __init__(self, context):
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_end,), daemon=True)
        self.process.start()
        child_end.close()
        self.task: Task | None = None
        self.deadline = float("inf")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class ProcessExecutor(Executor):
    """``workers`` processes, started with ``start_method`` (default ``spawn``).

    Tasks (codec, metrics and image) are pickled to the workers, so codecs
    must be picklable; ``spawn`` keeps torch/TF thread pools out of forked
    children.
    """

    def __init__(self, workers: int, timeout: float | None = None, start_method: str = "spawn"):
        super().__init__(timeout)
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.context = multiprocessing.get_context(start_method)
        self._pool: list[_Worker] = []

    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        pending = iter(tasks)
        exhausted = False
        while True:
            # Hand out tasks to idle workers.
            while not exhausted and self._idle_worker_available():
                task = next(pending, None)
                if task is None:
                    exhausted = True
                    break
                failure = self._dispatch(task)
                if failure is not None:
                    yield failure
            busy = [w for w in self._pool if w.task is not None]
            if not busy:
                if exhausted:
                    return
                continue
            yield from self._collect(busy)

    def _idle_worker_available(self) -> bool:
        if any(w.task is None for w in self._pool):
            return True
        if len(self._pool) < self.workers:
            self._pool.append(_Worker(self.context))
            return True
        return False

    def _dispatch(self, task: Task) -> ResultRow | None:
        worker = next(w for w in self._pool if w.task is None)
        try:
            worker.connection.send(task)
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable codec
            self._replace(worker)
            return task.row(error=describe_error("send task to worker", exc))
        worker.task = task
        worker.deadline = time.monotonic() + self.timeout if self.timeout else float("inf")
        return None

    def _collect(self, busy: list[_Worker]) -> Iterator[ResultRow]:
        next_deadline = min(w.deadline for w in busy)
        wait_s = None if next_deadline == float("inf") else max(0.0, next_deadline - time.monotonic())
        handles = {}
        for worker in busy:
            handles[worker.connection] = worker
            handles[worker.process.sentinel] = worker
        ready = wait(list(handles), timeout=wait_s)
        finished = []
        for handle in ready:
            worker = handles[handle]
            if worker in finished:
                continue
            finished.append(worker)
            task = worker.task
            try:
                row = worker.connection.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=5)
                code = worker.process.exitcode
                row = task.row(error=f"worker: process died while running the task (exit code {code})")
                self._replace(worker)
            else:
                worker.task = None
            yield row
        now = time.monotonic()
        for worker in busy:
            if worker not in finished and worker.deadline <= now:
                task = worker.task
                self._replace(worker)
                yield self.timeout_row(task)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._pool.remove(worker)

    def close(self) -> None:
        for worker in self._pool:
            try:
                if worker.task is None and worker.process.is_alive():
                    worker.connection.send(None)
                    worker.process.join(timeout=2)
            except (OSError, ValueError):
                pass
            worker.kill()
        self._pool = []


def make_executor(jobs: int, timeout: float | None = None, kind: str | None = None) -> Executor:
    """``serial`` for ``jobs == 1`` unless ``kind`` says otherwise, else ``process``."""
    kind = kind or ("serial" if jobs == 1 else "process")
    if kind == "serial":
        return SerialExecutor(timeout)
    if kind == "process":
        return ProcessExecutor(jobs, timeout)
    raise ValueError(f"unknown executor {kind!r}; valid: serial, process")
