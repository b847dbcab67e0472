"""The Ray executor (``--executor ray``): a run's tasks on a Ray cluster.

``ray`` is imported only here, when this executor is used (the ``ray`` extra). The run's
own process is the Ray driver and stays the single writer of the results store: rows
stream back as tasks finish, so resume, refusal to mix runs, error rows and the exit
status are the process pool's.

* **Where**: ``--executor-option address=HOST:PORT`` (or ``--ray-address``) joins a
  running cluster (``ray start --head`` and ``ray start --address …`` on the other
  nodes); without it a local Ray instance is started for the run and stopped after it.
* **Slots**: a pool of Ray actors (:class:`TaskRunner`), each a worker process that
  evaluates its tasks one after the other: ``-j N`` CPU slots (default: as many as the
  cluster has CPUs, ``cpus-per-task`` each, default 1), and with ``--device cuda`` one GPU
  slot per ``gpus-per-task`` GPUs of the cluster (default 1; ``0.25`` packs four on a GPU)
  for the learned codecs' tasks (framework ``torch`` or ``tensorflow``). The CPU slots'
  actors are started when the run first asks for the cluster's description (before it
  plans its tasks), so their worker processes start while the driver prepares. Each slot has
  one task running and one queued (:data:`PIPELINE_DEPTH`), so it never waits for the
  driver; the in-flight tasks also bound the driver's memory.
* **Models load once per worker**: each codec, the metrics tuple and the dataset are put
  in Ray's object store once per run; an actor keeps what it received
  (:data:`_WORKER_CACHE`, by run token), so a learned codec loads its weights once per
  slot, not once per task.
* **Images**: by default the driver reads each image and puts it in the object store
  once (every task of that image shares it, and a worker fetches it once for its tasks
  of that image); with ``images=workers`` (a dataset path
  shared by every node) the workers read the images themselves.
* **Faults**: a task's time limit (``--timeout``, plus ``startup-grace`` seconds, default
  60, on a new actor's first task for its imports) runs from when it reaches the head of
  its slot's queue; past it the actor is killed, the task becomes an error row and the
  queued task moves to a new actor. An actor whose process dies (or whose node is lost)
  is restarted by Ray and its task retried once (``max_restarts=1``,
  ``max_task_retries=1``); a second death makes the task an error row (once its node is
  seen alive up to :data:`NODE_LOSS_WAIT_S` later) and the slot a new actor. A node lost
  (no longer alive in ``ray.nodes()``, checked every :data:`NODE_CHECK_S` seconds) takes
  its slots with it: their actors are killed and their tasks, the running one included, go
  to the slots left (or become error rows when no slot of their kind is left), so a
  cluster that shrinks never waits for an actor that has no room to restart. A killed
  driver leaves the store with every finished row, and the same
  command resumes.
* ``run.json`` records the cluster: nodes, CPUs, GPUs, Ray version, address.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
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
NODE_CHECK_S = 2.0
"""Seconds between two looks at which nodes are alive while tasks run."""
NODE_LOSS_WAIT_S = 30.0
"""How long a dead actor's node may take to be found lost (Ray's health checks declare a
node dead after about 15 s) before its task's death counts as its own."""
PIPELINE_DEPTH = 2
"""Tasks queued on each actor: one running, one waiting, so an actor never idles while
its next task travels from the driver."""

_WORKER_CACHE: dict[tuple[str, str], object] = {}
"""In each Ray worker process: what it was sent, by ``(run token, name)``."""
_LAST_IMAGE: dict[tuple[str, str, str], Any] = {}
"""In each Ray worker process: the image of its last task, by ``(run token, dataset,
image id)`` (tasks come image by image: the image is fetched once per worker and image)."""


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

            key = (token, task.dataset, task.image_id)
            if key not in _LAST_IMAGE:
                _LAST_IMAGE.clear()
                _LAST_IMAGE[key] = ray.get(image_ref[0])
            task.image = _LAST_IMAGE[key]
        elif source_ref:
            task.source = _cached(token, "dataset", source_ref)
    except Exception as exc:  # noqa: BLE001 - the driver must get a row
        return ResultRow(codec=task.codec_name, quality=task.key[1], dataset=task.dataset,
                         image_id=task.image_id, codec_version=task.codec_version,
                         error=describe_error("worker", exc))
    return evaluate(task)


class TaskRunner:
    """A Ray actor: one slot of the pool, evaluating its tasks one after the other in one
    worker process (which keeps the codecs, metrics and dataset it received)."""

    def evaluate(self, token: str, task: Task, codec_ref: list, metrics_ref: list,
                 image_ref: list, source_ref: list) -> ResultRow:
        return _run_task(token, task, codec_ref, metrics_ref, image_ref, source_ref)

    def node_id(self) -> str:
        """The id of the node this actor runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()


@dataclass
class _InFlight:
    task: Task
    ref: Any
    deadline: float = float("inf")


@dataclass
class _Suspect:
    """A task whose actor died on a node that was alive then: its error row waits up to
    :data:`NODE_LOSS_WAIT_S` for the node to be found lost, which makes it a rerun."""

    task: Task
    row: ResultRow
    node: str
    until: float


@dataclass
class _Slot:
    kind: str
    resources: dict
    actor: Any = None
    fresh: bool = True
    queue: deque = field(default_factory=deque)
    node: Any = None
    """The actor's ``node_id()`` ref until it is resolved, then the node id."""


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
        self._initialized_here = False
        self._connected = False
        self._early_slots: list[_Slot] | None = None
        self._token = uuid.uuid4().hex
        self._refs: dict[str, object] = {}
        self._runner: Any = None

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
            # a runtime environment only when there are variables to set: without one the
            # actors start in the cluster's plain workers, with no environment to prepare
            runtime_env = {"env_vars": dict(self.settings.env)} if self.settings.env else None
            if not ray.is_initialized():
                if self.settings.address:
                    ray.init(address=self.settings.address, runtime_env=runtime_env,
                             log_to_driver=False, include_dashboard=False)
                else:
                    cpus = self.settings.workers or None
                    ray.init(num_cpus=cpus, runtime_env=runtime_env, log_to_driver=False,
                             include_dashboard=False)
                self._initialized_here = True
            self._runner = ray.remote(max_restarts=1, max_task_retries=1)(TaskRunner)
            self._connected = True
        return ray

    def describe(self) -> dict:
        """The cluster, for ``run.json``. The CPU slots' actors are started here, so that
        their worker processes start (≈ 1 s: an interpreter importing Ray) while the run
        plans its tasks and loads its first image; :meth:`run` uses them. (GPU slots start
        with their first task: a run may have no learned codec for them.)"""
        ray = self._connect()
        if self._early_slots is None:
            self._early_slots = self._slots(ray)
            for slot in self._early_slots:
                if slot.kind == "cpu":
                    self._start(ray, slot)
        nodes = self._alive_nodes(ray)
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

    def _submit(self, ray, slot: _Slot, task: Task):
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
        assert slot.actor is not None
        return slot.actor.evaluate.remote(self._token, task.without_payload(), codec_ref,
                                          metrics_ref, image_ref, source_ref)

    # -- running -------------------------------------------------------------------------
    def _slots(self, ray) -> list[_Slot]:
        """One actor per slot: CPU slots for every task, GPU slots (``--device cuda`` and
        GPUs in the cluster) for the learned codecs' tasks."""
        cpu = [_Slot("cpu", {"num_cpus": self.settings.cpus_per_task})
               for _ in range(self._capacity(ray))]
        gpus = ray.cluster_resources().get("GPU", 0) if uses_gpu(self.settings.device) else 0
        gpu = [_Slot("gpu", {"num_gpus": self.settings.gpus_per_task, "num_cpus": 0})
               for _ in range(int(gpus // self.settings.gpus_per_task))]
        return cpu + gpu

    def _kind(self, task: Task, slots: list[_Slot]) -> str:
        learned = task.codec.framework in LEARNED_FRAMEWORKS
        return "gpu" if learned and any(slot.kind == "gpu" for slot in slots) else "cpu"

    def _start(self, ray, slot: _Slot) -> None:
        assert self._runner is not None
        slot.actor = self._runner.options(**slot.resources).remote()
        slot.node = slot.actor.node_id.remote()
        slot.fresh = True

    def _give(self, ray, slot: _Slot, task: Task) -> None:
        if slot.actor is None:
            self._start(ray, slot)
        ref = self._submit(ray, slot, task)
        slot.queue.append(_InFlight(task, ref))
        if len(slot.queue) == 1:
            self._started(slot)

    def _started(self, slot: _Slot) -> None:
        """The head of ``slot``'s queue is now running: its time limit starts."""
        if self.timeout and slot.queue:
            grace = self.settings.startup_grace_s if slot.fresh else 0.0
            slot.queue[0].deadline = time.monotonic() + grace + self.timeout

    def run(self, tasks: Iterable[Task]) -> Iterator[ResultRow]:
        ray = self._connect()
        slots, self._early_slots = self._early_slots or self._slots(ray), []
        pending = iter(tasks)
        requeued: deque[Task] = deque()  # the tasks of slots lost with their node
        suspects: list[_Suspect] = []
        held: Task | None = None
        exhausted = False
        next_node_check = time.monotonic() + NODE_CHECK_S
        while True:
            while True:  # keep every actor's queue PIPELINE_DEPTH deep
                task: Task | None = None
                if held is not None:
                    task, held = held, None
                elif requeued:
                    task = requeued.popleft()
                elif not exhausted:
                    task = next(pending, None)
                    exhausted = task is None
                if task is None:
                    break
                kind = self._kind(task, slots)
                if not any(s.kind == kind for s in slots):
                    yield task.row(error="ray: every node that could run the task is lost")
                    continue
                open_slots = [s for s in slots if s.kind == kind and len(s.queue) < PIPELINE_DEPTH]
                if not open_slots:
                    held = task
                    break
                try:
                    self._give(ray, min(open_slots, key=lambda s: len(s.queue)), task)
                except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable codec
                    yield task.row(error=describe_error("submit task to ray", exc))
            busy = [slot for slot in slots if slot.queue]
            if busy:
                yield from self._wait_for_one(ray, slots, busy, next_node_check, requeued,
                                              suspects)
            elif exhausted and held is None and not requeued and not suspects:
                return
            elif suspects and not requeued:
                time.sleep(max(0.0, next_node_check - time.monotonic()))
            now = time.monotonic()
            if now >= next_node_check:
                next_node_check = now + NODE_CHECK_S
                nodes = self._alive_nodes(ray)
                for slot in self._on_lost_nodes(ray, slots, nodes):
                    slots.remove(slot)
                    requeued.extend(self._abandon(ray, slot))
                alive = {node["NodeID"] for node in nodes}
                for suspect in list(suspects):
                    if suspect.node not in alive:  # it died with its node: run it again
                        requeued.append(suspect.task)
                        suspects.remove(suspect)
                    elif now >= suspect.until:  # its process died on a node still alive
                        suspects.remove(suspect)
                        yield suspect.row

    def _wait_for_one(self, ray, slots: list[_Slot], busy: list[_Slot], until: float,
                      requeued: deque[Task], suspects: list[_Suspect]) -> Iterator[ResultRow]:
        """Wait for a running task of ``busy`` (at most until ``until`` or the first time
        limit), then handle what finished and what ran past its limit."""
        deadline = min(slot.queue[0].deadline for slot in busy)
        wait_s = max(0.0, min(deadline, until) - time.monotonic())
        refs = {slot.queue[0].ref: slot for slot in busy}
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=wait_s)
        for ref in ready:
            slot = refs[ref]
            done = slot.queue.popleft()
            row, actor_died = self._collect(ray, ref, done.task)
            slot.fresh = False
            if not actor_died:
                self._started(slot)
                yield row
                continue
            node = self._node_of(ray, slot)
            if node is not None and node not in {n["NodeID"] for n in self._alive_nodes(ray)}:
                slots.remove(slot)  # lost with its node: its tasks go to the slots left
                requeued.extend([done.task, *self._abandon(ray, slot)])
                continue
            yield from self._restart(ray, slot)  # restarted and retried once already
            if node:  # its node may be dying, unnoticed yet: the next checks decide
                suspects.append(_Suspect(done.task, row, node,
                                         time.monotonic() + NODE_LOSS_WAIT_S))
            else:
                yield row
        now = time.monotonic()
        for slot in busy:
            if slot.queue and slot.queue[0].deadline <= now:
                late = slot.queue.popleft()
                yield self.timeout_row(late.task)
                yield from self._restart(ray, slot)

    @staticmethod
    def _alive_nodes(ray) -> list[dict]:
        return [node for node in ray.nodes() if node.get("Alive")]

    def _restart(self, ray, slot: _Slot) -> Iterator[ResultRow]:
        """Replace ``slot``'s actor (killed: it ran past a time limit, or died for good) and
        give the new one the tasks that were queued behind, which never started."""
        if slot.actor is not None:
            ray.kill(slot.actor, no_restart=True)
        waiting = [item.task for item in slot.queue]
        slot.queue.clear()
        slot.actor = None
        for task in waiting:
            try:
                self._give(ray, slot, task)
            except Exception as exc:  # noqa: BLE001
                yield task.row(error=describe_error("submit task to ray", exc))

    def _on_lost_nodes(self, ray, slots: list[_Slot], nodes: list[dict]) -> list[_Slot]:
        """The slots lost with a node: those whose actor's node is no longer alive, then,
        while more slots of a kind remain than the alive nodes can hold, those whose actor
        has not started (one that lost its node before it answered waits for room to
        restart that a shrunk cluster may never have)."""
        alive = {node["NodeID"] for node in nodes}
        lost = [slot for slot in slots if slot.actor is not None
                and self._node_of(ray, slot) not in (None, *alive)]
        for kind, resource, per_slot in (("cpu", "CPU", self.settings.cpus_per_task),
                                         ("gpu", "GPU", self.settings.gpus_per_task)):
            room = int(sum(node.get("Resources", {}).get(resource, 0) for node in nodes)
                       // per_slot)
            kept = [slot for slot in slots if slot.kind == kind and slot not in lost]
            unstarted = [slot for slot in kept
                         if slot.actor is not None and self._node_of(ray, slot) is None]
            lost += unstarted[:max(0, len(kept) - room)]
        return lost

    @staticmethod
    def _node_of(ray, slot: _Slot) -> str | None:
        """The node id of ``slot``'s actor, ``None`` while it has not answered, ``""`` when
        it died before it could."""
        if not isinstance(slot.node, str):
            ready, _ = ray.wait([slot.node], timeout=0)
            if not ready:
                return None
            try:
                slot.node = ray.get(slot.node)
            except ray.exceptions.RayError:
                slot.node = ""
        return slot.node

    def _abandon(self, ray, slot: _Slot) -> list[Task]:
        """Kill the actor of a slot lost with its node; its tasks, the running one too."""
        ray.kill(slot.actor, no_restart=True)
        tasks = [item.task for item in slot.queue]
        slot.queue.clear()
        slot.actor = slot.node = None
        return tasks

    def _collect(self, ray, ref, task: Task) -> tuple[ResultRow, bool]:
        """The task's row, and whether its actor is dead for good."""
        try:
            row = ray.get(ref)
        except (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnavailableError,
                ray.exceptions.WorkerCrashedError):
            return task.row(error="worker: process died while running the task "
                                  "(retried once)"), True
        except ray.exceptions.RayError as exc:
            return task.row(error=describe_error("ray", exc).splitlines()[0]), False
        if not isinstance(row, ResultRow) or row.key != task.key:
            return task.row(error="ray: unexpected result from the worker"), False
        if task.image is not None and row.width is None:  # a row made in the worker
            row.width, row.height = task.image.shape[1], task.image.shape[0]
        return row, False

    def close(self) -> None:
        """Disconnect (and stop the Ray instance started for the run). A driver that
        joined a cluster disconnects here too, not at interpreter exit, where Ray's own
        shutdown costs the command up to a second; a Ray connection the caller made
        (``ray.init`` before the run) is left as it was."""
        self._refs.clear()
        self._early_slots = None
        if self._initialized_here:
            import ray

            ray.shutdown()
            self._initialized_here = False
        self._connected = False
