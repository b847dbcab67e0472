"""The executor plugin contract: what ``register_executors`` registers.

An :class:`ExecutorType` names a way of running a run's tasks (``in-process``,
``process``, ``ray``, or a plugin's: Slurm, Dask, …) and creates the executor of one run
from :class:`ExecutorOptions`. The executor itself subclasses
:class:`codecbench.harness.executors.Executor` (``run(tasks)`` yields one
:class:`~codecbench.harness.schema.ResultRow` per task; ``close()``; ``describe()`` for
``run.json``), so whatever runs the tasks, the harness stays the single writer of the
results store, and resume, error rows and exit status are the same.

Registering must be cheap: import the engine (Ray, Dask) in :meth:`ExecutorType.create`,
and say in :meth:`ExecutorType.availability` when it is not installed.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field


class ExecutorOptionError(ValueError):
    """An executor option is unknown or has an invalid value (the message names it)."""


@dataclass(frozen=True)
class ExecutorOptions:
    """What ``codecbench run`` tells an executor.

    Attributes:
        workers: ``-j``: tasks run at the same time (the engine's own default when the
            executor sizes itself, e.g. from a cluster's CPUs, and ``workers`` is ``0``).
        timeout: ``--timeout``: seconds a task may take before it becomes an error row.
        device: ``--device`` (``cpu``, ``cuda``, ``cuda:1``): where learned codecs run.
        settings: ``--executor-option KEY=VALUE`` pairs, for options only one executor
            has (Ray's ``address``, ``gpus-per-task``, …).
    """

    workers: int = 1
    timeout: float | None = None
    device: str = "cpu"
    settings: Mapping[str, str] = field(default_factory=dict)

    def setting(self, key: str, default: str | None = None) -> str | None:
        return self.settings.get(key, default)

    def refuse_unknown(self, executor: str, known: tuple[str, ...]) -> None:
        """An :class:`ExecutorOptionError` for any setting not in ``known``."""
        unknown = sorted(set(self.settings) - set(known))
        if unknown:
            valid = ", ".join(known) or "(none)"
            raise ExecutorOptionError(f"executor {executor!r} has no option "
                                      f"{', '.join(map(repr, unknown))}; valid: {valid}")


class ExecutorType(abc.ABC):
    """A registered way of running tasks; see the module docstring."""

    name: str
    description: str = ""

    def availability(self) -> tuple[bool, str]:
        """``(True, "")``, or ``(False, reason)`` (e.g. its engine is not installed)."""
        return True, ""

    @abc.abstractmethod
    def create(self, options: ExecutorOptions):
        """The executor of one run (a :class:`codecbench.harness.executors.Executor`);
        raises :class:`ExecutorOptionError` for options it refuses."""
