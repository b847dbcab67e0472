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
when the hook runs (once per command line built), not when the entry point loads.
"""

from __future__ import annotations

from codecbench.api.hookspecs import hookimpl


@hookimpl
def register_commands(cli):
    from codecbench.cli import main as commands
    from codecbench.cli.convert import convert
    from codecbench.cli.leaderboard import leaderboard
    from codecbench.cli.train import train

    for command in (commands.run, commands.list_command, commands.plugins, commands.datasets,
                    leaderboard, train, convert):
        cli.add_command(command)
