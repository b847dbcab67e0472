"""Plugin loading: entry points, broken plugins, conflicts, filters, strict mode."""

from __future__ import annotations

import pytest

from codecbench.core.plugins import (
    NameConflictError,
    PluginLoadError,
    Registry,
    UnknownNameError,
)
from conftest import run_cli

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
    assert set(registry.plugins) == {"good", "metrics-basic"}
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

    from codecbench.core.hookspecs import hookimpl

    plugin = types.ModuleType("bad_plugin")

    @hookimpl
    def register_codecs(register):
        register("not a codec")

    plugin.register_codecs = register_codecs
    with pytest.raises(PluginLoadError, match="expected a Codec instance"):
        Registry(strict=True).add_plugin(plugin, "bad")


@pytest.mark.slow
def test_cli_with_a_plugin_that_raises_at_import(fake_dists, tmp_path, small_photo_dir):
    """Acceptance: the others still load and run; the message names the broken plugin."""
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
