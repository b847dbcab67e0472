"""The plugin manager: loads entry points of group ``codecbench`` and collects registrations.

* Every module exposed in the entry-point group ``codecbench`` is a plugin,
  built-in ones included (they are declared in codecbench's own pyproject).
* ``CODECBENCH_LOAD_PLUGINS=a,b`` loads only the entry points named ``a`` and
  ``b`` (an empty value loads none), plus the built-in commands plugin
  ``commands-builtin``, which is always loaded (:data:`ALWAYS_LOADED`).
* A plugin that raises on import or while registering is skipped, with a
  warning on stderr naming the plugin, its distribution and the error; what
  it registered in that hook is discarded. ``CODECBENCH_STRICT_PLUGINS=1``
  turns that into a :class:`PluginLoadError`.
* ``CODECBENCH_LOAD_PLUGINS`` naming no installed entry point is a warning on
  stderr that lists the installed ones.
* Two plugins registering the same codec, dataset or metric name is an error
  naming both, recorded in the errors of each of them; the name is then unusable
  (:class:`NameConflictError`) until one plugin is removed, rather than silently
  picking one. It stays visible (:meth:`Registry.conflicted_names`), and every
  request that would include it fails: the name itself, a pattern matching it, and
  "all of that kind" (:meth:`Registry.all`, :meth:`Registry.codecs`,
  :meth:`Registry.metrics`).
* A plugin command whose name is already taken (a built-in command, or one of a
  plugin loaded before) does not replace it: a warning names the plugin, and its
  command is ignored (an error in strict mode).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from codecbench.api import entry_point_index, hookspecs
from codecbench.api.codec import Codec, validate_codec_metadata
from codecbench.api.dataset import Dataset
from codecbench.api.executor import ExecutorType
from codecbench.api.metric import Metric

KINDS = ("codecs", "datasets", "metrics", "executors")

BUILTIN_COMMANDS_PLUGIN = "commands-builtin"
# Entry points loaded whatever CODECBENCH_LOAD_PLUGINS (or ``only``) says, by name and the
# module codecbench itself declares for it. Only the built-in commands and executors: the
# variable picks which codecs, datasets and metrics are on offer, and a command line
# without ``run``, ``list`` or ``plugins``, or a ``run`` with nothing to run its tasks,
# would serve no one who sets it. They register no codec, dataset or metric, so loading
# them changes nothing the variable selects.
ALWAYS_LOADED = {BUILTIN_COMMANDS_PLUGIN: "codecbench.cli.plugin",
                 "executors-builtin": "codecbench.harness.executors.builtin"}
_KIND_TYPES: dict[str, type[Any]] = {"codecs": Codec, "datasets": Dataset, "metrics": Metric,
                                     "executors": ExecutorType}


class PluginLoadError(RuntimeError):
    """A plugin failed to import or register (raised only in strict mode)."""


class NameConflictError(LookupError):
    """Two plugins registered the same name."""


class UnknownNameError(LookupError):
    """A name matches nothing registered; the message lists the valid names."""


@dataclass
class PluginInfo:
    """What is known about one loaded (or failed) plugin."""

    name: str
    module: str = ""
    distribution: str = ""
    distribution_version: str = ""
    registered: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        dist = self.distribution or "no distribution"
        if self.distribution_version:
            dist += f" {self.distribution_version}"
        return f"plugin {self.name!r} ({dist})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.distribution_version,
            **{kind: list(names) for kind, names in self.registered.items()},
            "errors": list(self.errors),
        }


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _warn(message: str) -> None:
    print(f"codecbench: warning: {message}", file=sys.stderr)


class Registry:
    """Plugins and everything they registered, by kind and name."""

    def __init__(self, strict: bool | None = None):
        self.strict = _env_flag("CODECBENCH_STRICT_PLUGINS") if strict is None else strict
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.objects: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
        self.owners: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.conflicts: dict[str, dict[str, list[str]]] = {k: {} for k in KINDS}
        self._conflict_messages: dict[tuple[str, str], str] = {}

    # -- loading ---------------------------------------------------------------

    def _fail(self, info: PluginInfo, phase: str, exc: BaseException) -> None:
        if isinstance(exc, SyntaxError):
            detail = f"{type(exc).__name__}: {exc.msg} ({exc.filename}, line {exc.lineno})"
        else:  # one line, whatever the message
            import traceback

            detail = " ".join("".join(traceback.format_exception_only(type(exc), exc)).split())
        message = f"{info.label} failed in {phase}: {detail}"
        info.errors.append(message)
        if self.strict:
            raise PluginLoadError(message) from exc
        _warn(message + " (skipped; CODECBENCH_STRICT_PLUGINS=1 makes this fatal)")

    def load_entry_points(self, only: Iterable[str] | None = None) -> None:
        """Import and register every entry point of group ``codecbench``.

        ``only`` (default: ``CODECBENCH_LOAD_PLUGINS`` split on commas, when set)
        limits loading to those entry-point names, and to :data:`ALWAYS_LOADED`
        (the built-in commands), which load in any case.
        """
        from_env = only is None and "CODECBENCH_LOAD_PLUGINS" in os.environ
        if from_env:
            only = [n.strip() for n in os.environ["CODECBENCH_LOAD_PLUGINS"].split(",")]
        wanted = None if only is None else {n for n in only if n}
        entry_points = entry_point_index.entry_points(hookspecs.ENTRY_POINT_GROUP)
        unknown = sorted((wanted or set()) - {ep.name for ep in entry_points})
        if unknown:
            source = "CODECBENCH_LOAD_PLUGINS" if from_env else "the plugin list"
            installed = ", ".join(sorted({ep.name for ep in entry_points})) or "(none)"
            _warn(f"{source} names no installed plugin {', '.join(map(repr, unknown))}; "
                  f"installed entry points: {installed}")
        for entry_point in sorted(entry_points, key=lambda ep: ep.name):
            if (wanted is not None and entry_point.name not in wanted
                    and ALWAYS_LOADED.get(entry_point.name) != entry_point.value):
                continue
            info = PluginInfo(
                name=entry_point.name,
                module=entry_point.value,
                distribution=entry_point.distribution,
                distribution_version=entry_point.version,
            )
            if entry_point.name in self.plugins:
                self._fail(info, "import", RuntimeError("duplicate entry-point name"))
                continue
            self.plugins[info.name] = info
            try:
                module = entry_point.load()
            except Exception as exc:  # noqa: BLE001 - any plugin error is reported, not fatal
                self._fail(info, "import", exc)
                continue
            self._register_module(module, info)

    def add_plugin(self, plugin: object, name: str, distribution: str = "") -> PluginInfo:
        """Register an in-process plugin object (tests, notebooks, embedding apps)."""
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        info.distribution = distribution
        self.plugins[name] = info
        self._register_module(plugin, info)
        return info

    def _register_module(self, module: object, info: PluginInfo) -> None:
        try:
            self.manager.register(module, name=info.name)
        except Exception as exc:  # noqa: BLE001
            self._fail(info, "hook validation", exc)
            return
        for kind in KINDS:
            self._collect(kind, info)

    def _collect(self, kind: str, info: PluginInfo) -> None:
        hook = getattr(self.manager.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            if impl.plugin_name != info.name:
                continue
            collected: list[Any] = []
            try:
                impl.function(*[collected.append if a == "register" else None for a in impl.argnames])
                for obj in collected:
                    self._check_object(kind, obj)
            except Exception as exc:  # noqa: BLE001
                self._fail(info, f"register_{kind}", exc)
                continue
            for obj in collected:
                self._add(kind, obj, info)

    @staticmethod
    def _check_object(kind: str, obj: object) -> None:
        expected = _KIND_TYPES[kind]
        if not isinstance(obj, expected):
            raise TypeError(f"register_{kind} got {obj!r}, expected a {expected.__name__} instance")
        if kind == "codecs":
            problems = validate_codec_metadata(obj)
            if problems:
                raise ValueError(f"codec {getattr(obj, 'name', obj)!r}: " + "; ".join(problems))
        elif not isinstance(getattr(obj, "name", None), str) or not obj.name.strip():
            raise ValueError(f"{expected.__name__} {obj!r} has no name")

    def _add(self, kind: str, obj: Any, info: PluginInfo) -> None:
        name = obj.name
        info.registered[kind].append(name)
        conflicts = self.conflicts[kind]
        if name in conflicts:
            if info.name not in conflicts[name]:
                conflicts[name].append(info.name)
        elif name in self.objects[kind]:
            first = self.owners[kind].pop(name)
            del self.objects[kind][name]
            conflicts[name] = list(dict.fromkeys([first, info.name]))
        else:
            self.objects[kind][name] = obj
            self.owners[kind][name] = info.name
            return
        message = (
            f"{kind[:-1]} name {name!r} is registered by several plugins: "
            + ", ".join(self.plugins[p].label for p in conflicts[name])
            + "; the name is unusable until all but one are removed"
        )
        # every plugin involved carries the (latest, complete) message
        previous = self._conflict_messages.get((kind, name))
        self._conflict_messages[(kind, name)] = message
        for plugin_name in conflicts[name]:
            errors = self.plugins[plugin_name].errors
            if previous in errors:
                errors.remove(previous)
            errors.append(message)
        if self.strict:
            raise PluginLoadError(message)
        _warn(message)

    def register_commands(self, cli: object) -> None:
        """Let every plugin add subcommands to ``cli`` (a :class:`click.Group`).

        The built-in commands plugin runs first, then the others in loading order. A
        command name already taken (by a built-in command or an earlier plugin) keeps
        its command: the plugin that replaced (or removed) it is reported, naming both
        plugins, and its command is dropped (:class:`PluginLoadError` in strict mode).
        A hook that raises is reported like any plugin failure, and the commands it
        added are discarded.
        """
        impls = sorted(self.manager.hook.register_commands.get_hookimpls(),
                       key=lambda impl: impl.plugin_name != BUILTIN_COMMANDS_PLUGIN)
        commands = getattr(cli, "commands", None)  # a click.Group's subcommands, by name
        if not isinstance(commands, dict):
            commands = None
        owners = {name: "" for name in commands or ()}  # there before any plugin
        for impl in impls:
            info = self.plugins[impl.plugin_name]
            before = dict(commands) if commands is not None else {}
            try:
                impl.function(*[cli if a == "cli" else None for a in impl.argnames])
            except Exception as exc:  # noqa: BLE001
                if commands is not None:
                    commands.clear()
                    commands.update(before)
                self._fail(info, "register_commands", exc)
                continue
            if commands is None:
                continue
            for name, command in before.items():
                if commands.get(name) is not command:
                    commands[name] = command
                    self._command_clash(info, name, owners[name])
            for name in commands:
                owners.setdefault(name, info.name)

    def _command_clash(self, info: PluginInfo, name: str, owner: str) -> None:
        first = self.plugins[owner].label if owner in self.plugins else "codecbench"
        message = (f"{info.label} registered a command named {name!r}, which {first} "
                   f"already provides; {name!r} stays {first}'s command and this plugin's "
                   "is ignored (rename it)")
        if message not in info.errors:
            info.errors.append(message)
        if self.strict:
            raise PluginLoadError(message)
        _warn(message)

    # -- lookups ---------------------------------------------------------------

    @property
    def errors(self) -> list[str]:
        return [e for info in self.plugins.values() for e in info.errors]

    def names(self, kind: str) -> list[str]:
        """The usable names of ``kind`` (conflicted ones are not: see :meth:`conflicted_names`)."""
        return sorted(self.objects[kind])

    def conflicted_names(self, kind: str) -> list[str]:
        """Names of ``kind`` that several plugins registered (unusable)."""
        return sorted(self.conflicts[kind])

    def conflict_message(self, kind: str, name: str) -> str:
        """Why the conflicted ``name`` is unusable, naming every plugin that registered it."""
        owners = ", ".join(self.plugins[p].label for p in self.conflicts[kind][name])
        return (f"{kind[:-1]} {name!r} is registered by several plugins: {owners}; "
                "uninstall all but one of them")

    def check_usable(self, kind: str, name: str) -> bool:
        """Whether ``name`` is registered (``False`` when it is not);
        :class:`NameConflictError`, naming the plugins, when several plugins registered it."""
        if name in self.conflicts[kind]:
            raise NameConflictError(self.conflict_message(kind, name))
        return name in self.objects[kind]

    def get(self, kind: str, name: str) -> Any:
        """The object registered as ``name``; errors name conflicting plugins or list valid names."""
        if self.check_usable(kind, name):
            return self.objects[kind][name]
        valid = ", ".join(self.names(kind)) or "(none registered)"
        raise UnknownNameError(f"unknown {kind[:-1]} {name!r}; valid {kind}: {valid}")

    def select(self, kind: str, patterns: Iterable[str]) -> list[Any]:
        """Objects matching shell-style ``patterns`` (``'torch/*'``), in pattern order, no repeats.

        A pattern that matches a conflicted name raises :class:`NameConflictError`.
        """
        selected: dict[str, Any] = {}
        for pattern in patterns:
            if any(ch in pattern for ch in "*?["):
                candidates = sorted({*self.objects[kind], *self.conflicts[kind]})
                matches = fnmatch.filter(candidates, pattern)
                if not matches:
                    valid = ", ".join(self.names(kind)) or "(none registered)"
                    raise UnknownNameError(
                        f"pattern {pattern!r} matches no {kind[:-1]}; valid {kind}: {valid}"
                    )
                for name in matches:
                    if name in self.conflicts[kind]:
                        raise NameConflictError(f"pattern {pattern!r} matches a conflicted "
                                                "name: " + self.conflict_message(kind, name))
                    selected.setdefault(name, self.objects[kind][name])
            else:
                selected.setdefault(pattern, self.get(kind, pattern))
        return list(selected.values())

    def all(self, kind: str) -> list[Any]:
        """Every object of ``kind``, sorted by name; :class:`NameConflictError` when a name
        of that kind is conflicted (rather than leaving it out silently)."""
        conflicted = self.conflicted_names(kind)
        if conflicted:
            raise NameConflictError(
                f"cannot select every {kind[:-1]}: "
                + "; ".join(self.conflict_message(kind, name) for name in conflicted)
            )
        return [self.objects[kind][n] for n in self.names(kind)]

    def owner(self, kind: str, name: str) -> PluginInfo:
        return self.plugins[self.owners[kind][name]]

    def codecs(self) -> list[Codec]:
        """Every codec (see :meth:`all`)."""
        return self.all("codecs")

    def datasets(self) -> list[Dataset]:
        """Every dataset (see :meth:`all`)."""
        return self.all("datasets")

    def metrics(self) -> list[Metric]:
        """Every metric (see :meth:`all`)."""
        return self.all("metrics")


_REGISTRY: Registry | None = None


def get_registry(reload: bool = False) -> Registry:
    """The process-wide registry, loading entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        registry = Registry()
        registry.load_entry_points()
        _REGISTRY = registry
    return _REGISTRY


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (tests and embedding applications)."""
    global _REGISTRY
    _REGISTRY = registry

