"""The built-in plugin ``commands-builtin``: codecbench's own subcommands.

``run``, ``list``, ``plugins``, ``datasets``, ``leaderboard``, ``train`` and ``convert``
are added to the command line through the ``register_commands`` hook, exactly as a
third-party plugin adds its own (entry point ``commands-builtin`` in codecbench's
pyproject). Its hook runs before any other plugin's, so a plugin command with one of
these names is reported and ignored rather than replacing the built-in one.

This plugin is always loaded, whatever ``CODECBENCH_LOAD_PLUGINS`` says (see
:data:`codecbench.api.registry.ALWAYS_LOADED`): that variable chooses which codecs,
datasets and metrics are on offer, and a command line without its commands would be
no use to anyone setting it. Loading it is cheap: the command modules are imported
when the hook runs (once per command line built), not when the entry point loads; and
``leaderboard``, ``train`` and ``convert``, each in its own module, are
:class:`~codecbench.cli.lazy.LazyCommand` stand-ins, their modules imported only when
those commands are used.
"""

from __future__ import annotations

from codecbench.api.hookspecs import hookimpl

LAZY_COMMANDS = {
    "leaderboard": "codecbench.cli.leaderboard:leaderboard",
    "train": "codecbench.cli.train:train",
    "convert": "codecbench.cli.convert:convert",
}
"""Command name → ``module:attribute`` of the built-in commands imported when used."""


@hookimpl
def register_commands(cli):
    from codecbench.cli import main as commands
    from codecbench.cli.lazy import LazyCommand

    for command in (commands.run, commands.list_command, commands.plugins, commands.datasets):
        cli.add_command(command)
    for name, target in LAZY_COMMANDS.items():
        cli.add_command(LazyCommand(name, target))
