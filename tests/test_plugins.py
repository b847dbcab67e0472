"""Plugin loading: entry points, broken plugins, conflicts, filters, strict mode."""

from __future__ import annotations

import click
import pytest

from codecbench.api.registry import (
    NameConflictError,
    PluginLoadError,
    Registry,
    UnknownNameError,
)
from helpers import run_cli

GOOD = {
    "good_plugin": """
        import codecs_for_tests as tc
        from codecbench import hookimpl

        @hookimpl
        def register_codecs(register):
            register(tc.LosslessZlib())
    """
}
BROKEN_IMPORT = {"broken_plugin": "raise ImportError('needs libfoo 3')\n"}
BROKEN_REGISTER = {
    "half_plugin": """
        import codecs_for_tests as tc
        from codecbench import hookimpl

        @hookimpl
        def register_codecs(register):
            register(tc.WrongShape())
            raise RuntimeError('second codec failed')
    """
}
CONFLICT = {
    "twin_plugin": """
        import codecs_for_tests as tc
        from codecbench import hookimpl

        @hookimpl
        def register_codecs(register):
            register(tc.LosslessZlib())
    """
}


def test_builtins_come_from_entry_points():
    registry = Registry(strict=True)
    registry.load_entry_points()
    assert {"jpeg", "jpeg-444"} <= set(registry.names("codecs"))
    assert {"bpp", "psnr"} <= set(registry.names("metrics"))
    assert "sample" in registry.names("datasets")
    assert registry.owner("codecs", "jpeg").distribution == "codecbench"


def test_broken_plugin_is_skipped_and_named(fake_dists, capsys):
    fake_dists("good-dist", {"good": "good_plugin"}, GOOD)
    fake_dists("broken-dist", {"broken": "broken_plugin"}, BROKEN_IMPORT, version="0.3")
    registry = Registry(strict=False)
    registry.load_entry_points()
    err = capsys.readouterr().err
    assert "plugin 'broken' (broken-dist 0.3) failed in import: ImportError: needs libfoo 3" in err
    assert "test/zlib" in registry.names("codecs") and "jpeg" in registry.names("codecs")
    assert registry.plugins["broken"].errors


def test_strict_mode_makes_plugin_errors_fatal(fake_dists, monkeypatch):
    fake_dists("broken-dist", {"broken": "broken_plugin"}, BROKEN_IMPORT)
    monkeypatch.setenv("CODECBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="plugin 'broken' \\(broken-dist 1.0\\)"):
        Registry().load_entry_points()


def test_registration_error_discards_the_hook_partial_work(fake_dists, capsys):
    fake_dists("half-dist", {"half": "half_plugin"}, BROKEN_REGISTER)
    registry = Registry(strict=False)
    registry.load_entry_points()
    assert "failed in register_codecs: RuntimeError: second codec failed" in capsys.readouterr().err
    assert "test/wrong-shape" not in registry.names("codecs")


def test_same_name_from_two_plugins_is_an_error_naming_both(fake_dists, capsys):
    fake_dists("good-dist", {"good": "good_plugin"}, GOOD)
    fake_dists("twin-dist", {"twin": "twin_plugin"}, CONFLICT)
    registry = Registry(strict=False)
    registry.load_entry_points()
    err = capsys.readouterr().err
    assert "'test/zlib' is registered by several plugins" in err
    assert "good-dist" in err and "twin-dist" in err
    with pytest.raises(NameConflictError, match="good-dist.*twin-dist"):
        registry.get("codecs", "test/zlib")
    with pytest.raises(PluginLoadError, match="several plugins"):
        Registry(strict=True).load_entry_points()


def test_load_plugins_env_limits_entry_points(fake_dists, monkeypatch):
    fake_dists("good-dist", {"good": "good_plugin"}, GOOD)
    monkeypatch.setenv("CODECBENCH_LOAD_PLUGINS", "good, metrics-basic")
    registry = Registry(strict=True)
    registry.load_entry_points()
    assert set(registry.plugins) == {"good", "metrics-basic", "commands-builtin",
                                     "executors-builtin"}  # always loaded
    assert registry.names("codecs") == ["test/zlib"]


def test_unknown_names_list_valid_ones():
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow"])
    with pytest.raises(UnknownNameError, match="unknown codec 'jpg'; valid codecs: avif, jpeg, jpeg-444"):
        registry.get("codecs", "jpg")
    with pytest.raises(UnknownNameError, match="pattern 'torch/\\*' matches no codec"):
        registry.select("codecs", ["torch/*"])
    assert [c.name for c in registry.select("codecs", ["jpeg*"])] == ["jpeg", "jpeg-444", "jpeg2000"]


def test_invalid_registration_is_reported():
    import types

    from codecbench.api.hookspecs import hookimpl

    plugin = types.ModuleType("bad_plugin")

    @hookimpl
    def register_codecs(register):
        register("not a codec")

    plugin.register_codecs = register_codecs
    with pytest.raises(PluginLoadError, match="expected a Codec instance"):
        Registry(strict=True).add_plugin(plugin, "bad")


@pytest.mark.slow
def test_cli_with_a_plugin_that_raises_at_import(fake_dists, tmp_path, small_photo_dir):
    """The other plugins still load and run; the message names the broken plugin."""
    fake_dists("broken-dist", {"broken": "broken_plugin"}, BROKEN_IMPORT)
    listing = run_cli("plugins", cwd=tmp_path)
    assert listing.returncode == 0
    assert "plugin 'broken' (broken-dist 1.0) failed in import" in listing.stderr
    assert "classic-pillow" in listing.stdout
    result = run_cli("run", "--codec", "jpeg", "--quality", "50", "--dataset",
                     str(small_photo_dir), "--out", str(tmp_path / "run"), "--no-progress",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "broken" in result.stderr and "jpeg" in result.stdout
    strict = run_cli("plugins", cwd=tmp_path, env={"CODECBENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0 and "broken-dist" in strict.stderr


@pytest.mark.slow
def test_register_commands_adds_a_subcommand(fake_dists, tmp_path):
    fake_dists("cmd-dist", {"cmd": "cmd_plugin"}, {"cmd_plugin": """
        import click
        from codecbench import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            @click.argument("name")
            def hello(name):
                \"\"\"Say hello (from a plugin).\"\"\"
                click.echo(f"hello {name}")
    """})
    assert "Say hello (from a plugin)" in run_cli("--help", cwd=tmp_path).stdout
    result = run_cli("hello", "codecs", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "hello codecs"


# -- commands: the built-in ones are a plugin too ----------------------------------------------

BUILTIN_COMMANDS = {"run", "list", "plugins", "datasets", "leaderboard", "train", "convert"}


def _command_plugin(name, *, fails=False):
    """A plugin adding ``hello`` and ``run`` commands (``run`` clashes with the built-in)."""
    import types

    import click

    from codecbench.api.hookspecs import hookimpl

    plugin = types.ModuleType(name)

    @hookimpl
    def register_commands(cli):
        @cli.command("run")
        def run():
            """A plugin's run."""

        @cli.command(f"hello-{name}")
        def hello():
            """Say hello."""
            click.echo("hello")

        if fails:
            raise RuntimeError("command registration failed")

    plugin.register_commands = register_commands
    return plugin


def test_builtin_commands_are_always_loaded_and_come_through_the_hook():
    from codecbench.cli import main as cli_module
    from codecbench.cli.main import build_cli

    registry = Registry(strict=True)
    registry.load_entry_points(only=[])  # "load none" still loads the built-in commands
    assert set(registry.plugins) == {"commands-builtin", "executors-builtin"}
    assert set(registry.names("executors")) == {"process", "in-process", "ray"}
    assert registry.plugins["commands-builtin"].distribution == "codecbench"
    group = build_cli(registry)
    assert set(group.commands) == BUILTIN_COMMANDS
    assert group.commands["run"] is cli_module.run
    assert build_cli(registry) is not group  # a new group each time: nothing leaks


def test_plugin_command_with_a_builtin_name_is_reported_not_used(capsys):
    from codecbench.cli import main as cli_module
    from codecbench.cli.main import build_cli

    registry = Registry(strict=False)
    # added before the built-in plugin, and its name sorts first: the built-in still wins
    registry.add_plugin(_command_plugin("aaa"), "aaa", distribution="aaa-dist")
    registry.load_entry_points(only=[])
    group = build_cli(registry)
    assert group.commands["run"] is cli_module.run
    assert "hello-aaa" in group.commands  # its other command stays
    err = capsys.readouterr().err
    assert "warning: plugin 'aaa' (aaa-dist) registered a command named 'run'" in err
    assert "plugin 'commands-builtin' (codecbench" in err
    assert any("'run'" in e for e in registry.plugins["aaa"].errors)
    strict = Registry(strict=True)
    strict.load_entry_points(only=[])
    strict.add_plugin(_command_plugin("bbb"), "bbb", distribution="bbb-dist")
    with pytest.raises(click.ClickException, match="plugin 'bbb' \\(bbb-dist\\) registered"):
        build_cli(strict)


def test_failing_command_hook_adds_nothing(capsys):
    from codecbench.cli import main as cli_module
    from codecbench.cli.main import build_cli

    registry = Registry(strict=False)
    registry.load_entry_points(only=[])
    registry.add_plugin(_command_plugin("half", fails=True), "half")
    group = build_cli(registry)
    assert set(group.commands) == BUILTIN_COMMANDS and group.commands["run"] is cli_module.run
    assert "failed in register_commands: RuntimeError" in capsys.readouterr().err


def test_every_family_folder_is_registered_in_each_framework_it_has():
    """A family folder with a torch/ or tf/ codecs module is listed in FAMILIES."""
    from pathlib import Path

    import codecbench.codecs.learned as learned
    from codecbench.codecs.learned.families import FAMILIES

    root = Path(learned.__file__).parent
    found = {folder.name: tuple(fw for fw in ("torch", "tf")
                                if (folder / fw / "codecs.py").is_file())
             for folder in root.iterdir() if folder.is_dir() and folder.name not in ("torch", "tf")}
    assert {name: fws for name, fws in found.items() if fws} == FAMILIES
