"""The built-in executors, registered through ``register_executors`` like a plugin's
(entry point ``executors-builtin``): ``process`` (the default), ``in-process`` and
``ray``."""

from __future__ import annotations

import importlib.util

from codecbench.api.executor import ExecutorOptionError, ExecutorOptions, ExecutorType
from codecbench.api.hookspecs import hookimpl

DEFAULT_EXECUTOR = "process"


class ProcessPoolType(ExecutorType):
    name = "process"
    description = ("-j worker processes on this machine; a task that crashes, hangs or "
                   "exits costs only its own row (the default)")

    def create(self, options: ExecutorOptions):
        from codecbench.harness.executors.process_pool import ProcessExecutor

        options.refuse_unknown(self.name, ())
        return ProcessExecutor(max(options.workers, 1), options.timeout)


class InProcessType(ExecutorType):
    name = "in-process"
    description = ("one task at a time in this process, for debuggers and profilers "
                   "(unprotected: a codec that exits or hangs in native code ends the run)")

    def create(self, options: ExecutorOptions):
        from codecbench.harness.executors.in_process import InProcessExecutor

        options.refuse_unknown(self.name, ())
        if options.workers not in (0, 1):
            raise ExecutorOptionError(f"the in-process executor runs one task at a time; "
                                      f"drop -j {options.workers} or use --executor process")
        return InProcessExecutor(options.timeout)


class RayType(ExecutorType):
    name = "ray"
    description = ("tasks on a Ray cluster (--executor-option address=HOST:PORT, or a "
                   "local one): GPU tasks ask for a GPU, results stream back to this process")

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("ray") is None:
            return False, "ray not installed (pip install 'codecbench[ray]')"
        return True, ""

    def create(self, options: ExecutorOptions):
        available, reason = self.availability()
        if not available:
            raise ExecutorOptionError(f"executor 'ray': {reason}")
        from codecbench.harness.executors.ray_cluster import RayExecutor

        return RayExecutor.from_options(options)


@hookimpl
def register_executors(register):
    register(ProcessPoolType())
    register(InProcessType())
    register(RayType())
