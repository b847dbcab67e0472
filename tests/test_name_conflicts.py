"""A name registered by two plugins is visible as a conflict everywhere and never used."""

from __future__ import annotations

import json
import types

import click
import pytest
from click.testing import CliRunner

import codecs_for_tests as tc
from codecbench.api import registry as plugins_module
from codecbench.api.dataset import Dataset
from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import Metric
from codecbench.api.registry import NameConflictError, Registry
from codecbench.cli.main import build_cli, main

pytestmark = pytest.mark.no_frameworks


class TwinJpeg(tc.LosslessZlib):
    name = "jpeg"


class TwinPsnr(Metric):
    name = "psnr"
    unit = "dB"
    higher_is_better = True
    description = "a second psnr"

    def compute(self, reference, reconstruction, compressed_size):
        return 0.0


class TwinSample(Dataset):
    name = "sample"
    version = "1"
    license = "CC0"
    source = "nowhere"

    def image_ids(self):
        return []

    def load(self, image_id):
        raise KeyError(image_id)

    def content_hash(self):
        return "sha256:0"


def _twin_plugin(**objects) -> types.ModuleType:
    plugin = types.ModuleType("twin_plugin")
    for kind, obj in objects.items():
        def hook(register, obj=obj):
            register(obj)
        hook.__name__ = f"register_{kind}"
        setattr(plugin, f"register_{kind}", hookimpl(hook))
    return plugin


@pytest.fixture
def conflicted(monkeypatch, capsys):
    """The built-in classic codecs, basic metrics and datasets, plus a plugin ("twin",
    distribution twin-dist) registering ``jpeg``, ``psnr`` and ``sample`` again; it is
    the registry the command line uses."""
    registry = Registry(strict=False)
    registry.load_entry_points(only=["classic-pillow", "metrics-basic", "datasets-builtin"])
    registry.add_plugin(_twin_plugin(codecs=TwinJpeg(), metrics=TwinPsnr(),
                                     datasets=TwinSample()), "twin", distribution="twin-dist")
    capsys.readouterr()
    monkeypatch.setattr(plugins_module, "_REGISTRY", registry)
    return registry


def _invoke(*args):
    return CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_both_plugins_carry_the_conflict_error(conflicted):
    for plugin in ("classic-pillow", "twin"):
        assert any("'jpeg' is registered by several plugins" in e
                   for e in conflicted.plugins[plugin].errors), plugin
    assert any("'psnr'" in e for e in conflicted.plugins["metrics-basic"].errors)
    assert any("'sample'" in e for e in conflicted.plugins["datasets-builtin"].errors)
    result = _invoke("plugins")
    assert result.exit_code == 0
    blocks, current = {}, None
    for line in result.stdout.splitlines():
        if not line.startswith(" "):
            current = blocks.setdefault(line.split()[0], [])
        else:
            current.append(line.strip())
    for plugin in ("classic-pillow", "twin"):
        assert any(line.startswith("ERROR: codec name 'jpeg' is registered by several plugins")
                   and "twin-dist" in line for line in blocks[plugin]), blocks[plugin]
    records = {r["name"]: r for r in json.loads(_invoke("plugins", "--json").stdout)}
    assert any("'jpeg'" in e for e in records["classic-pillow"]["errors"])
    assert any("'jpeg'" in e for e in records["twin"]["errors"])


def test_three_plugins_each_show_one_complete_message(conflicted):
    conflicted.add_plugin(_twin_plugin(codecs=TwinJpeg()), "third", distribution="third-dist")
    for plugin in ("classic-pillow", "twin", "third"):
        messages = [e for e in conflicted.plugins[plugin].errors if "'jpeg'" in e]
        assert len(messages) == 1, (plugin, messages)
        assert "classic-pillow" in messages[0] and "twin-dist" in messages[0]
        assert "third-dist" in messages[0]


@pytest.mark.parametrize("kind, name", [("codecs", "jpeg"), ("metrics", "psnr"),
                                        ("datasets", "sample")])
def test_list_shows_the_conflicted_name(conflicted, kind, name):
    result = _invoke("list", kind)
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if line.split()[0] == name)
    assert "CONFLICT" in line and "twin-dist" in line and "codecbench" in line
    records = {r["name"]: r for r in json.loads(_invoke("list", kind, "--json").stdout)}
    assert records[name]["conflict"] is True and "twin" in records[name]["plugins"]
    assert "several plugins" in records[name]["error"]
    others = [r for r in records.values() if r["name"] != name]
    assert others and not any(r["conflict"] for r in others)


def test_default_run_fails_naming_both_plugins(conflicted, small_photo_dir, tmp_path):
    result = _invoke("run", "--dataset", str(small_photo_dir), "--out", str(tmp_path / "run"),
                     "--no-progress")
    line = _one_error_line(result)
    assert "'jpeg'" in line and "classic-pillow" in line and "twin-dist" in line
    assert not (tmp_path / "run").exists()


def test_pattern_matching_a_conflicted_codec_fails(conflicted, small_photo_dir, tmp_path):
    result = _invoke("run", "--codec", "jpeg*", "--dataset", str(small_photo_dir),
                     "--out", str(tmp_path / "run"), "--no-progress")
    line = _one_error_line(result)
    assert "pattern 'jpeg*' matches a conflicted name: codec 'jpeg'" in line and "twin-dist" in line


def test_exact_conflicted_codec_fails(conflicted, small_photo_dir, tmp_path):
    result = _invoke("run", "--codec", "jpeg", "--dataset", str(small_photo_dir),
                     "--out", str(tmp_path / "run"), "--no-progress")
    assert "twin-dist" in _one_error_line(result)


def test_metric_selections_touching_the_conflict_fail(conflicted, small_photo_dir, tmp_path):
    common = ("--codec", "webp", "--dataset", str(small_photo_dir), "--no-progress")
    default = _invoke("run", *common, "--out", str(tmp_path / "a"))
    assert "'psnr'" in _one_error_line(default)
    pattern = _invoke("run", *common, "--metric", "ps*", "--out", str(tmp_path / "b"))
    assert "pattern 'ps*' matches a conflicted name: metric 'psnr'" in _one_error_line(pattern)


def test_registry_selection_rules(conflicted):
    with pytest.raises(NameConflictError, match="codec 'jpeg'.*classic-pillow.*twin-dist"):
        conflicted.codecs()
    with pytest.raises(NameConflictError, match="metric 'psnr'"):
        conflicted.metrics()
    with pytest.raises(NameConflictError, match="dataset 'sample'"):
        conflicted.datasets()
    with pytest.raises(NameConflictError, match="pattern 'j\\*'"):
        conflicted.select("codecs", ["j*"])
    assert [c.name for c in conflicted.select("codecs", ["webp", "jpeg-*"])] == \
        ["webp", "jpeg-444"]
    assert conflicted.conflicted_names("codecs") == ["jpeg"]
    assert "jpeg" not in conflicted.names("codecs")


def test_check_usable_for_the_bd_anchor(conflicted):
    with pytest.raises(NameConflictError, match="codec 'jpeg'.*twin-dist"):
        conflicted.check_usable("codecs", "jpeg")
    assert conflicted.check_usable("codecs", "webp") is True
    assert conflicted.check_usable("codecs", "no-such-codec") is False


def test_a_registry_without_conflicts_still_selects_everything():
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow", "metrics-basic"])
    assert "jpeg" in [c.name for c in registry.codecs()]
    assert registry.conflicted_names("codecs") == []
    assert registry.check_usable("codecs", "jpeg") is True


# -- CODECBENCH_LOAD_PLUGINS and strict mode -------------------------------------------------


def test_unknown_name_in_load_plugins_is_a_warning_listing_entry_points(monkeypatch, capsys):
    monkeypatch.setenv("CODECBENCH_LOAD_PLUGINS", "classic-pillow,clasic-heif")
    registry = Registry(strict=False)
    registry.load_entry_points()
    err = capsys.readouterr().err
    assert "warning" in err and "'clasic-heif'" in err
    assert "classic-heif" in err.split("'clasic-heif'")[1] and "metrics-basic" in err
    assert set(registry.plugins) == {"classic-pillow", "commands-builtin",
                                     "executors-builtin"}  # always loaded


def test_strict_plugin_failure_is_one_error_line(fake_dists, monkeypatch, capsys):
    fake_dists("broken-dist", {"broken": "broken_plugin"},
               {"broken_plugin": "raise ImportError('needs libfoo 3')\n"})
    monkeypatch.setenv("CODECBENCH_STRICT_PLUGINS", "1")
    monkeypatch.setenv("CODECBENCH_LOAD_PLUGINS", "broken,metrics-basic")
    monkeypatch.setattr(plugins_module, "_REGISTRY", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["plugins"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        "Error: plugin 'broken' (broken-dist 1.0) failed in import: ImportError: needs libfoo 3"
    ]
    # embedded, without main(): building the command line fails with the same one line
    with pytest.raises(click.ClickException, match="^plugin 'broken' \\(broken-dist 1.0\\)"):
        build_cli()


TWIN_ZLIB = """
    import codecs_for_tests as tc
    from codecbench import hookimpl

    @hookimpl
    def register_codecs(register):
        register(tc.LosslessZlib())
"""


def test_strict_conflict_is_one_error_line(fake_dists, monkeypatch, capsys):
    fake_dists("one-dist", {"one": "one_plugin"}, {"one_plugin": TWIN_ZLIB})
    fake_dists("two-dist", {"two": "two_plugin"}, {"two_plugin": TWIN_ZLIB})
    monkeypatch.setenv("CODECBENCH_STRICT_PLUGINS", "1")
    monkeypatch.setenv("CODECBENCH_LOAD_PLUGINS", "one,two")
    monkeypatch.setattr(plugins_module, "_REGISTRY", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "codecs"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: codec name 'test/zlib' is registered by several plugins")
    assert "one-dist" in err and "two-dist" in err and len(err.strip().splitlines()) == 1


def test_strict_syntax_error_in_a_plugin_is_one_error_line(fake_dists, monkeypatch, capsys):
    fake_dists("typo-dist", {"typo": "typo_plugin"}, {"typo_plugin": "def broken(:\n"})
    monkeypatch.setenv("CODECBENCH_STRICT_PLUGINS", "1")
    monkeypatch.setenv("CODECBENCH_LOAD_PLUGINS", "typo")
    monkeypatch.setattr(plugins_module, "_REGISTRY", None)
    with pytest.raises(SystemExit):
        main(["plugins"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: plugin 'typo' (typo-dist 1.0) "
                                                   "failed in import: SyntaxError")
    assert "typo_plugin.py, line 1" in lines[0]


def test_conflicted_dataset_fails_naming_both_plugins(conflicted, tmp_path):
    result = _invoke("run", "--codec", "webp", "--metric", "bpp", "--out", str(tmp_path / "r"),
                     "--no-progress")
    line = _one_error_line(result)
    assert "dataset 'sample'" in line and "twin-dist" in line
    listed = _invoke("datasets", "list")
    assert any("sample" in row and "CONFLICT" in row and "twin-dist" in row
               for row in listed.stdout.splitlines()), listed.stdout
