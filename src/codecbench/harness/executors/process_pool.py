"""The process-pool executor (``--executor process``, the default, at every ``-j``).

Tasks run in ``N`` worker processes, one task per worker at a time. Nothing a codec or a
metric does can end or hang the run: a task past its timeout, or a worker that dies
(``os._exit``, a segfault, out of memory), costs only that task — the worker is killed and
replaced, and the task becomes an error row. ``SystemExit`` and other exceptions inside a
task are error rows too.

Workers end with the run's process, however it ends (``kill -9`` included): a hung task
never outlives its run. Workers keep each codec and the metrics they were sent (a learned
codec loads its model once per worker, not once per task) and the image of their last
task (tasks come image by image, so an image crosses the pipe once per worker rather
than once per task).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait

from codecbench.harness.executors.base import Executor
from codecbench.harness.schema import ResultRow
from codecbench.harness.task import Task, describe_error, evaluate

STARTUP_GRACE_S = 120.0
"""Time a worker may take to start and unpickle what a task needs (importing a framework)
before the task's own time limit begins; past it the task is a timeout all the same."""
STARTED = "started"
PARENT_POLL_S = 1.0
"""How often a worker checks that the run's process is still alive."""


THREADED_FRAMEWORKS = ("torch", "tensorflow", "jax")
"""Modules whose thread pools and device state a forked child would inherit half-working."""


def default_start_method() -> str:
    """``fork`` where the platform has it and no threaded framework is loaded in this
    process (codecbench imports torch and TensorFlow only inside the tasks, so the command
    line's process never has them): a forked worker starts in milliseconds, with this
    process's modules already imported; otherwise ``spawn`` (a fresh interpreter, ≈ 0.8 s
    per worker), which keeps those thread pools out of the children."""
    if "fork" in multiprocessing.get_all_start_methods() and not any(
            name in sys.modules for name in THREADED_FRAMEWORKS):
        return "fork"
    return "spawn"


# Messages from the parent to a worker: ("codec", name, codec), ("metrics", metrics),
# ("image", key, array), ("task", task without codec/metrics/image), or None to stop.


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the run's process ends, however it ends (``kill -9``
    included), so that a hung task never outlives its run: the kernel's parent-death
    signal where there is one (Linux), and a watcher thread polling the parent anyway."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="codecbench-parent-watch", daemon=True).start()


def _worker_main(connection, parent_pid: int) -> None:
    """Worker loop: keep what the parent sent, evaluate tasks, send back their rows."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the run's handler, when forked
    codecs: dict[str, object] = {}
    metrics: tuple = ()
    image = None
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        kind = message[0]
        if kind == "codec":
            codecs[message[1]] = message[2]
        elif kind == "metrics":
            metrics = message[1]
        elif kind == "image":
            image = message[2]
        else:
            task = message[1]
            task.codec = codecs[task.codec_name]
            task.metrics = metrics
            task.image = image
            connection.send(STARTED)  # the task's time limit runs from here
            try:
                row = evaluate(task)
            except BaseException as exc:  # noqa: BLE001 - the parent must get a row
                row = task.row(error=describe_error("worker", exc))
            connection.send(row)


class _Worker:
    def __init__(self, context):
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_end, os.getpid()),
                                       daemon=True)
        self.process.start()
        child_end.close()
        self.task: Task | None = None
        self.deadline = float("inf")
        self.codecs: set[str] = set()
        self.metrics: tuple | None = None
        self.image_key: tuple | None = None

    def send(self, task: Task) -> None:
        """Send what the worker lacks (codec, metrics, image), then the task itself."""
        if task.codec.name not in self.codecs:
            self.connection.send(("codec", task.codec.name, task.codec))
            self.codecs.add(task.codec.name)
        if self.metrics is not task.metrics:
            self.connection.send(("metrics", task.metrics))
            self.metrics = task.metrics
        key = (task.dataset, task.image_id)
        if self.image_key != key:
            self.image_key = None
            self.connection.send(("image", key, task.image))
            self.image_key = key
        self.connection.send(("task", task.without_payload()))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class ProcessExecutor(Executor):
    """``workers`` processes, started with ``start_method`` (default: :func:`start_method`).

    Codecs, metrics and images are pickled to the workers, so codecs must be picklable.
    """

    def __init__(self, workers: int = 1, timeout: float | None = None,
                 start_method: str | None = None):
        super().__init__(timeout)
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.start_method = start_method or default_start_method()
        self.context = multiprocessing.get_context(self.start_method)
        self._pool: list[_Worker] = []

    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        """Rows of ``tasks``. While the workers compute, the next task is read ahead (the
        run loads its image then), and a worker that finished gets its next task before
        its row is passed on (and stored by the run): the run's own work per task overlaps
        the workers' instead of keeping them waiting."""
        pending = iter(tasks)
        ahead: list[Task] = []
        exhausted = False
        rows: list[ResultRow] = []
        while True:
            # Hand out tasks to idle workers, then pass on the rows collected.
            while not exhausted and self._idle_worker_available():
                task = ahead.pop() if ahead else next(pending, None)
                if task is None:
                    exhausted = True
                    break
                failure = self._dispatch(task)
                if failure is not None:
                    rows.append(failure)
            yield from rows
            busy = [w for w in self._pool if w.task is not None]
            if not busy:
                if exhausted:
                    return
                rows = []
                continue
            if not ahead and not exhausted:
                task = next(pending, None)
                if task is None:
                    exhausted = True
                else:
                    ahead.append(task)
            rows = list(self._collect(busy))

    def describe(self) -> dict:
        return {"name": "process", "workers": self.workers, "start_method": self.start_method}

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
            worker.send(task)
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable codec
            self._replace(worker)
            return task.row(error=describe_error("send task to worker", exc))
        worker.task = task
        worker.deadline = (time.monotonic() + STARTUP_GRACE_S + self.timeout if self.timeout
                           else float("inf"))
        return None

    def _collect(self, busy: list[_Worker]) -> Iterator[ResultRow]:
        next_deadline = min(w.deadline for w in busy)
        wait_s = None if next_deadline == float("inf") else max(0.0, next_deadline - time.monotonic())
        handles = {}
        for worker in busy:
            handles[worker.connection] = worker
            handles[worker.process.sentinel] = worker
        ready = wait(list(handles), timeout=wait_s)
        finished: list[_Worker] = []
        for handle in ready:
            worker = handles[handle]
            if worker in finished:
                continue
            finished.append(worker)
            task = worker.task
            assert task is not None
            try:
                row = worker.connection.recv()
                if row == STARTED:
                    if self.timeout:
                        worker.deadline = time.monotonic() + self.timeout
                    finished.remove(worker)
                    continue
                if not isinstance(row, ResultRow) or row.key != task.key:
                    raise EOFError("unexpected reply")
            except (EOFError, OSError):
                worker.process.join(timeout=5)
                code = worker.process.exitcode
                row = task.row(error=f"worker: process died while running the task (exit code {code})")
                self._replace(worker)
            except Exception as exc:  # noqa: BLE001 - e.g. a row that does not unpickle
                row = task.row(error=describe_error("receive row from worker", exc))
                self._replace(worker)
            else:
                worker.task = None
            yield row
        now = time.monotonic()
        for worker in busy:
            if worker not in finished and worker.deadline <= now:
                task = worker.task
                assert task is not None
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
