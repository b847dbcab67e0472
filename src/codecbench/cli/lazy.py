"""Subcommands whose module is imported only when they are used.

A :class:`LazyCommand` stands in the command line for a command defined in another
module (``"codecbench.cli.train:train"``): it carries the command's name, so that
the command line knows it and a plugin command of the same name is reported as a clash,
and imports the module when the command runs, completes or shows its help, or when
``codecbench --help`` lists it. A command line that runs ``codecbench run`` thus never
imports the modules of ``train``, ``leaderboard`` or ``convert``.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyCommand(click.Command):
    """The command ``name``, defined as ``attribute`` of ``module`` (``"module:attribute"``),
    imported when first needed."""

    def __init__(self, name: str, target: str):
        super().__init__(name)
        self.target = target
        self._command: click.Command | None = None

    def load(self) -> click.Command:
        """The command itself (its module imported on the first call)."""
        if self._command is None:
            module_name, _, attribute = self.target.partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command) or command.name != self.name:
                raise TypeError(f"{self.target} is not the command {self.name!r}")
            self._command = command
        return self._command

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """The context of the command itself: click then parses and invokes that one."""
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.load().get_short_help_str(limit)

    def to_info_dict(self, ctx: click.Context) -> dict[str, Any]:
        return self.load().to_info_dict(ctx)
