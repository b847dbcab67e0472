"""Hook specifications: the reference documentation for plugin authors.

A codecbench plugin is any module exposed through the ``codecbench`` entry-point
group that implements one or more of these hooks, marked with
:data:`hookimpl`::

    # pyproject.toml of your distribution
    [project.entry-points.codecbench]
    my-plugin = "my_package.plugin"

    # my_package/plugin.py
    from codecbench import hookimpl

    @hookimpl
    def register_codecs(register):
        register(MyCodec())

Hooks are callbacks, as in ``llm``: codecbench calls the hook with a
``register`` function, and the plugin calls it once per object it provides.
Registration must be cheap: do not import torch or tensorflow, load weights or
touch the network while registering. Do that on first use (``encode``,
``decode`` or iteration).

Every built-in codec, dataset, metric and subcommand is registered through these
same hooks and the same entry-point group.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "codecbench"
ENTRY_POINT_GROUP = "codecbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_codecs(register):
    """Register codecs.

    Call ``register(codec)`` once per codec, where ``codec`` is an instance of
    :class:`codecbench.Codec`. The codec's ``name`` must be unique across all
    installed plugins; two plugins registering the same name is an error that
    names both, and the name is unusable until one of them is removed.

    The instance must be cheap to create and picklable: it is sent to worker
    processes. Import heavy frameworks and load weights lazily, on the first
    ``encode``/``decode`` call.

    A codec that cannot run on this machine (a missing binary, no weights)
    should still be registered and report why through ``Codec.availability()``;
    it is then listed as unavailable with that reason.
    """


@hookspec
def register_datasets(register):
    """Register datasets.

    Call ``register(dataset)`` once per dataset, an instance of
    :class:`codecbench.Dataset`. Constructing it must not read or download the
    images; iteration does that.
    """


@hookspec
def register_metrics(register):
    """Register metrics.

    Call ``register(metric)`` once per metric, an instance of
    :class:`codecbench.Metric`. A metric computes one number per image from one
    :class:`codecbench.api.metric.Measurement` (reference, reconstruction, the file's
    size in bytes, the entropy model's estimate, the values of metrics computed before it)
    and declares what reports need: ``unit``, ``higher_is_better``, ``valid_range``,
    ``allows_infinity``, ``rd_axis`` (BD columns, RD plots, md/html columns), ``version``
    (into ``run.json`` and the resume fingerprint) and ``derived_from``. A value it
    cannot give is ``nan`` (an empty cell); an exception, ``None`` or a value outside its
    range costs only its own cell (the message in the row's ``metric_errors``). A
    :class:`codecbench.api.metric.SetMetric` (FID, KID) instead gives per-image
    ``features`` and one ``distance`` per codec × quality × dataset. A metric that needs
    something absent (pretrained weights) is still registered and says why through
    ``Metric.availability()``; it is then listed as unavailable and left out of the
    default run.
    """


@hookspec
def register_executors(register):
    """Register executors: ways of running a run's tasks (``codecbench run --executor NAME``).

    Call ``register(executor_type)`` once per executor, an instance of
    :class:`codecbench.api.executor.ExecutorType`: a ``name``, a ``description``,
    ``availability()`` and ``create(options)``, which returns the executor of one run —
    a subclass of :class:`codecbench.harness.executors.Executor` whose
    ``run(tasks)`` yields exactly one :class:`codecbench.harness.schema.ResultRow` per
    :class:`codecbench.harness.task.Task` (evaluate a task with
    :func:`codecbench.harness.task.evaluate`, wherever it runs: it never raises for a
    codec's or a metric's failure). ``options`` (:class:`codecbench.api.executor.ExecutorOptions`)
    carries ``-j``, ``--timeout``, ``--device`` and the ``--executor-option KEY=VALUE``
    pairs; refuse what you do not understand with
    :class:`codecbench.api.executor.ExecutorOptionError`. The harness stores every row
    itself, so resume, refusal to mix runs, error rows and the exit status work the same
    with any executor. ``codecbench list executors`` lists them.

    codecbench's own executors (``process``, ``in-process``, ``ray``) come through this
    same hook, from the built-in plugin ``executors-builtin``
    (:mod:`codecbench.harness.executors.builtin`). Import the engine (Ray, Dask, submitit)
    in ``create``, never while registering.
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``codecbench`` command line.

    ``cli`` is the top-level :class:`click.Group`; decorate new commands with
    ``@cli.command()`` (or ``cli.add_command(command)``). Imports needed by the command
    belong inside the command function, so that ``codecbench --help`` stays fast.

    codecbench's own commands (``run``, ``list``, ``plugins``, ``datasets``,
    ``leaderboard``, ``train``, ``convert``) come through this same hook, from the
    built-in plugin ``commands-builtin`` (:mod:`codecbench.cli.plugin`).
    That plugin is always loaded, even when ``CODECBENCH_LOAD_PLUGINS`` does not name
    it: the variable chooses which codecs, datasets and metrics are on offer, and
    dropping the built-in commands with them would leave a command line that can do
    nothing (we chose that over a fallback that re-adds the commands outside the hook,
    so that there is one way commands arrive). Its hook runs first; a plugin command
    with a name already taken (built-in, or from a plugin that ran before) is reported,
    naming the plugin, and ignored: it never replaces the existing command.
    """
