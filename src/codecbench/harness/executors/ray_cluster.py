"""The Ray executor (``--executor ray``): a run's tasks on a Ray cluster.

``ray`` is imported only here, when this executor is used (the ``ray`` extra). The run's
own process is the Ray driver and stays the single writer of the results store: rows
stream back as tasks finish, so resume, refusal to mix runs, error rows and the exit
status are the process pool's.

* **Where**: ``--executor-option address=HOST:PORT`` (or ``--ray-address``) joins a
  running cluster (``ray start --head`` and ``ray start --address …`` on the other
  nodes); without it a local Ray instance is started for the run and stopped after it.
* **Resources**: a task asks for ``cpus-per-task`` CPUs (default 1); with ``--device cuda``
  a task of a learned codec (framework ``torch`` or ``tensorflow``) asks for
  ``gpus-per-task`` GPUs instead (default 1; a fraction such as ``0.25`` packs four
  tasks on a GPU). ``-j N`` bounds the tasks in flight (default: as many as the cluster
  has CPUs), which also bounds the driver's memory.
* **Models load once per worker**: each codec, the metrics tuple and the dataset are put
  in Ray's object store once per run; a worker process keeps what it received
  (:data:`_WORKER_CACHE`, by run token), so a learned codec loads its weights once per
  worker process, not once per task.
* **Images**: by default the driver reads each image and puts it in the object store
  once (every task of that image shares it); with ``images=workers`` (a dataset path
  shared by every node) the workers read the images themselves.
* **Faults**: a task past ``--timeout`` (plus ``startup-grace`` seconds for a worker's
  imports, default 60) is cancelled (its worker killed) and becomes an error row; a worker
  process that dies mid-task makes Ray retry the task once (``max_retries=1``; a lost
  node's tasks are rescheduled the same way), then it becomes an error row; a killed
  driver leaves the store with every finished row, and the same command resumes.
* ``run.json`` records the cluster: nodes, CPUs, GPUs, Ray version, address.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from codecbench.api.executor import ExecutorOptionError, ExecutorOptions
from codecbench.frameworks.devices import device_environment, uses_gpu
from codecbench.harness.executors.base import Executor
from codecbench.harness.schema import ResultRow
from codecbench.harness.task import Task, describe_error, evaluate

OPTIONS = ("address", "gpus-per-task", "cpus-per-task", "images", "startup-grace")
LEARNED_FRAMEWORKS = ("torch", "tensorflow")
DEFAULT_STARTUP_GRACE_S = 60.0

_WORKER_CACHE: dict[tuple[str, str], object] = {}
"""In each Ray worker process: what it was sent, by ``(run token, name)``."""


def _cached(token: str, name: str, holder: list):
    """The object of ``holder[0]`` (an object ref, not resolved by Ray), fetched once per
    worker process and run."""
    import ray

    key = (token, name)
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = ray.get(holder[0])
    return _WORKER_CACHE[key]


def _run_task(token: str, task: Task, codec_ref: list, metrics_ref: list, image_ref: list,
              source_ref: list) -> ResultRow:
    """One task in a Ray worker (a module function: Ray ships it by reference)."""
    try:
        task.codec = _cached(token, "codec:" + task.codec_name, codec_ref)
        task.metrics = _cached(token, "metrics", metrics_ref)
        if image_ref:
            import ray

            task.image = ray.get(image_ref[0])
        elif source_ref:
            task.source = _cached(token, "dataset", source_ref)
    except Exception as exc:  # noqa: BLE001 - the driver must get a row
        return ResultRow(codec=task.codec_name, quality=task.key[1], dataset=task.dataset,
                         image_id=task.image_id, codec_version=task.codec_version,
                         error=describe_error("worker", exc))
    return evaluate(task)


@dataclass
class _InFlight:
    task: Task
    deadline: float


@dataclass
class RaySettings:
    """The Ray executor's options (see the module docstring)."""

    address: str | None = None
    workers: int = 0
    timeout: float | None = None
    device: str = "cpu"
    gpus_per_task: float = 1.0
    cpus_per_task: float = 1.0
    images: str = "driver"
    startup_grace_s: float = DEFAULT_STARTUP_GRACE_S
    env: dict[str, str] = field(default_factory=dict)


def _positive(options: ExecutorOptions, key: str, default: float) -> float:
    text = options.setting(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ExecutorOptionError(f"executor 'ray': {key} must be a positive number, "
                                  f"got {text!r}")
    return value


class RayExecutor(Executor):
    """Tasks as Ray tasks; see the module docstring."""

    def __init__(self, settings: RaySettings):
        super().__init__(settings.timeout)
        self.settings = settings
        self.reads_images = settings.images == "workers"
        self._started_here = False
        self._connected = False
        self._token = uuid.uuid4().hex
        self._refs: dict[str, object] = {}
        self._remote: Any = None

    @classmethod
    def from_options(cls, options: ExecutorOptions) -> RayExecutor:
        options.refuse_unknown("ray", OPTIONS)
        images = options.setting("images", "driver")
        if images not in ("driver", "workers"):
            raise ExecutorOptionError(f"executor 'ray': images must be driver or workers, "
                                      f"got {images!r}")
        return cls(RaySettings(
            address=options.setting("address") or None, workers=options.workers,
            timeout=options.timeout, device=options.device,
            gpus_per_task=_positive(options, "gpus-per-task", 1.0),
            cpus_per_task=_positive(options, "cpus-per-task", 1.0), images=images,
            startup_grace_s=_positive(options, "startup-grace", DEFAULT_STARTUP_GRACE_S),
            env=device_environment(options.device)))

    # -- the cluster ---------------------------------------------------------------------
    def _connect(self):
        import ray

        if not self._connected:
            runtime_env = {"env_vars": dict(self.settings.env)}
            if not ray.is_initialized():
                if self.settings.address:
                    ray.init(address=self.settings.address, runtime_env=runtime_env,
                             log_to_driver=False, include_dashboard=False)
                else:
                    cpus = self.settings.workers or None
                    ray.init(num_cpus=cpus, runtime_env=runtime_env, log_to_driver=False,
                             include_dashboard=False)
                    self._started_here = True
            self._remote = ray.remote(max_retries=1)(_run_task)
            self._connected = True
        return ray

    def describe(self) -> dict:
        ray = self._connect()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        resources = ray.cluster_resources()
        return {"name": "ray", "ray_version": ray.__version__,
                "address": self.settings.address or "local",
                "nodes": len(nodes), "cpus": resources.get("CPU", 0),
                "gpus": resources.get("GPU", 0), "device": self.settings.device,
                "images": self.settings.images,
                "in_flight": self._capacity(ray)}

    def _capacity(self, ray) -> int:
        if self.settings.workers:
            return self.settings.workers
        cpus = ray.cluster_resources().get("CPU", 1)
        return max(int(cpus // self.settings.cpus_per_task), 1)

    def _put_once(self, ray, name: str, value) -> list:
        if name not in self._refs:
            self._refs[name] = ray.put(value)
        return [self._refs[name]]

    def _resources(self, task: Task) -> dict:
        if uses_gpu(self.settings.device) and task.codec.framework in LEARNED_FRAMEWORKS:
            return {"num_gpus": self.settings.gpus_per_task, "num_cpus": 0}
        return {"num_cpus": self.settings.cpus_per_task}

    def _submit(self, ray, task: Task):
        codec_ref = self._put_once(ray, "codec:" + task.codec.name, task.codec)
        metrics_ref = self._put_once(ray, "metrics", task.metrics)
        image_ref, source_ref = [], []
        if task.image is not None:
            name = f"image:{task.dataset}:{task.image_id}"
            image_ref = self._put_once(ray, name, task.image)
            # one image in flight at a time per run: drop the refs of earlier images
            for key in [k for k in self._refs if k.startswith("image:") and k != name]:
                del self._refs[key]
        elif task.source is not None:
            source_ref = self._put_once(ray, "dataset", task.source)
        assert self._remote is not None
        return self._remote.options(**self._resources(task)).remote(
            self._token, task.without_payload(), codec_ref, metrics_ref, image_ref,
            source_ref)

    # -- running -------------------------------------------------------------------------
    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        ray = self._connect()
        capacity = self._capacity(ray)
        pending = iter(tasks)
        in_flight: dict[object, _InFlight] = {}
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < capacity:
                task = next(pending, None)
                if task is None:
                    exhausted = True
                    break
                try:
                    ref = self._submit(ray, task)
                except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable codec
                    yield task.row(error=describe_error("submit task to ray", exc))
                    continue
                deadline = (time.monotonic() + self.settings.startup_grace_s + self.timeout
                            if self.timeout else float("inf"))
                in_flight[ref] = _InFlight(task, deadline)
            if not in_flight:
                return
            next_deadline = min(item.deadline for item in in_flight.values())
            wait_s = None if next_deadline == float("inf") else max(
                0.0, next_deadline - time.monotonic())
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=wait_s)
            for ref in ready:
                yield self._collect(ray, ref, in_flight.pop(ref).task)
            now = time.monotonic()
            for ref in [r for r, item in in_flight.items() if item.deadline <= now]:
                task = in_flight.pop(ref).task
                ray.cancel(ref, force=True)
                yield self.timeout_row(task)

    def _collect(self, ray, ref, task: Task) -> ResultRow:
        try:
            row = ray.get(ref)
        except ray.exceptions.WorkerCrashedError:
            return task.row(error="worker: process died while running the task "
                                  "(retried once)")
        except ray.exceptions.RayError as exc:
            return task.row(error=describe_error("ray", exc).splitlines()[0])
        if not isinstance(row, ResultRow) or row.key != task.key:
            return task.row(error="ray: unexpected result from the worker")
        if task.image is not None and row.width is None:  # a row made in the worker
            row.width, row.height = task.image.shape[1], task.image.shape[0]
        return row

    def close(self) -> None:
        self._refs.clear()
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
        self._connected = False
