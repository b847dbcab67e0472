"""Executors: how a run's tasks are run. The harness talks only to :class:`Executor`.

* :mod:`.base`: the contract (:class:`Executor`);
* :mod:`.process_pool`: ``process``, worker processes on this machine (the default);
* :mod:`.in_process`: ``in-process``, one task at a time in this process (debugging);
* :mod:`.ray_cluster`: ``ray``, tasks on a Ray cluster;
* :mod:`.builtin`: the three registered through ``register_executors`` like any
  plugin's (:class:`codecbench.api.executor.ExecutorType`).
"""

from __future__ import annotations

from codecbench.api.executor import ExecutorOptions
from codecbench.harness.executors.base import Executor
from codecbench.harness.executors.builtin import (
    DEFAULT_EXECUTOR,
    InProcessType,
    ProcessPoolType,
    RayType,
)

BUILTIN_TYPES = {t.name: t for t in (ProcessPoolType(), InProcessType(), RayType())}


def make_executor(jobs: int = 1, timeout: float | None = None,
                  kind: str | None = None) -> Executor:
    """A built-in executor by name (default ``process``) with ``jobs`` workers, for callers
    of :func:`codecbench.harness.runner.run_evaluation` without a registry; the command line
    looks executors up in the registry, plugins' included."""
    name = kind or DEFAULT_EXECUTOR
    if name not in BUILTIN_TYPES:
        raise ValueError(f"unknown executor {name!r}; valid: {', '.join(BUILTIN_TYPES)}")
    return BUILTIN_TYPES[name].create(ExecutorOptions(workers=jobs, timeout=timeout))


__all__ = ["DEFAULT_EXECUTOR", "Executor", "ExecutorOptions", "make_executor"]
