"""The entry-point index: plugins are found without scanning every distribution's metadata
while nothing was installed, removed or rewritten, and found again when something was."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from codecbench.api import entry_point_index
from codecbench.api.registry import Registry
from helpers import make_distribution

GROUP = "codecbench"
PLUGIN = {"indexed_plugin": """
    from codecbench import hookimpl
    from codecbench.api.metric import Metric

    class Zero(Metric):
        name = "zero-metric"
        def compute(self, reference, decoded, bitstream):
            return 0.0

    @hookimpl
    def register_metrics(register):
        register(Zero())
"""}


def _age(*paths):
    """Date ``paths`` back beyond the racy window, as an install a while ago would be."""
    past = time.time() - 60
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("CODECBENCH_CACHE_DIR", str(tmp_path / "cache"))
    # the test's own folders were just made; what else is on sys.path (this checkout
    # included) may have changed seconds ago too: only the racy test keeps the window
    monkeypatch.setattr(entry_point_index, "RACY_S", 0.0)
    return root


def _scans(monkeypatch) -> list[int]:
    calls = []
    real = entry_point_index.scan

    def counting(group):
        calls.append(1)
        return real(group)

    monkeypatch.setattr(entry_point_index, "scan", counting)
    return calls


def _names(entries):
    return {(e.name, e.value, e.distribution, e.version) for e in entries}


def test_the_index_answers_while_nothing_changed(site, monkeypatch):
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN, "2.5")
    _age(site, *site.iterdir())
    scans = _scans(monkeypatch)
    first = entry_point_index.entry_points(GROUP)
    assert ("indexed", "indexed_plugin", "indexed-dist", "2.5") in _names(first)
    assert entry_point_index.index_path(GROUP).is_file()
    second = entry_point_index.entry_points(GROUP)
    assert len(scans) == 1 and _names(second) == _names(first)
    # the builtins come from the index as from the scan
    assert {"classic-pillow", "metrics-basic", "commands-builtin"} <= {e.name for e in second}


def test_installing_a_distribution_is_seen(site, monkeypatch):
    _age(site)
    scans = _scans(monkeypatch)
    assert "indexed" not in {e.name for e in entry_point_index.entry_points(GROUP)}
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN)
    _age(*site.iterdir())
    os.utime(site, (time.time() - 30, time.time() - 30))  # another time than the index's
    assert "indexed" in {e.name for e in entry_point_index.entry_points(GROUP)}
    assert len(scans) == 2


def test_removing_a_distribution_is_seen(site, monkeypatch):
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN)
    _age(site, *site.iterdir())
    assert "indexed" in {e.name for e in entry_point_index.entry_points(GROUP)}
    for path in sorted(site.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    os.utime(site, (time.time() - 30, time.time() - 30))
    assert "indexed" not in {e.name for e in entry_point_index.entry_points(GROUP)}


def test_rewriting_entry_points_in_place_is_seen(site, monkeypatch):
    """An editable reinstall rewrites entry_points.txt without touching the directory."""
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN)
    _age(site, *site.rglob("*"))
    assert "indexed" in {e.name for e in entry_point_index.entry_points(GROUP)}
    (text,) = site.glob("*.dist-info/entry_points.txt")
    text.write_text("[codecbench]\nrenamed = indexed_plugin\n")
    os.utime(text, (time.time() - 30, time.time() - 30))
    assert {"renamed"} == {e.name for e in entry_point_index.entry_points(GROUP)} & {
        "renamed", "indexed"}


def test_a_fresh_change_is_not_stored(site, monkeypatch):
    """Within the racy window a second change could keep the same times: not indexed."""
    monkeypatch.setattr(entry_point_index, "RACY_S", 2.0)
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN)
    entry_point_index.entry_points(GROUP)
    assert not entry_point_index.index_path(GROUP).exists()


@pytest.mark.parametrize("content", ["", "{", "[]", '{"version": 1}', "\x00\xff",
                                     '{"version": 1, "fingerprint": {}, "entry_points": [1]}'])
def test_a_damaged_index_is_rebuilt(site, content):
    _age(site)
    path = entry_point_index.index_path(GROUP)
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="latin-1")
    entries = entry_point_index.entry_points(GROUP)
    assert "metrics-basic" in {e.name for e in entries}
    assert path.read_text().startswith('{"version": 1, "fingerprint"')


def test_an_unwritable_cache_costs_only_the_index(site, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("CODECBENCH_CACHE_DIR", str(blocker / "cache"))
    assert "metrics-basic" in {e.name for e in entry_point_index.entry_points(GROUP)}


def test_the_index_can_be_turned_off(site, monkeypatch):
    _age(site)
    monkeypatch.setenv("CODECBENCH_ENTRY_POINT_INDEX", "0")
    scans = _scans(monkeypatch)
    entry_point_index.entry_points(GROUP)
    entry_point_index.entry_points(GROUP)
    assert len(scans) == 2 and not entry_point_index.index_path(GROUP).exists()


def test_plugins_loaded_from_the_index_register_and_name_their_distribution(site):
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN, "2.5")
    _age(site, *site.iterdir())
    entry_point_index.entry_points(GROUP)  # writes the index
    registry = Registry()
    registry.load_entry_points(only=["indexed"])
    info = registry.plugins["indexed"]
    assert (info.distribution, info.distribution_version) == ("indexed-dist", "2.5")
    assert registry.get("metrics", "zero-metric").name == "zero-metric"


def test_an_entry_point_naming_an_attribute_and_extras_loads_it(site):
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin:Zero [extra]"},
                      PLUGIN)
    (entry,) = [e for e in entry_point_index.entry_points(GROUP) if e.name == "indexed"]
    assert entry.load().__name__ == "Zero"


@pytest.mark.parametrize("command", [
    ["list", "codecs"],
    ["run", "--codec", "jpeg", "--quality", "50", "--metric", "bpp", "--no-progress", "-j", "1",
     "--executor", "in-process"],  # run.json's library versions from the versions index
])
def test_a_command_after_the_first_reads_no_distribution_metadata(tmp_path, command):
    """The second `codecbench list` or `run` answers from the indexes: importlib.metadata
    (and the email parser it imports) is never loaded."""
    _age(tmp_path)
    if command[0] == "run":
        command = [*command, "--out", str(tmp_path / "run")]
    code = ("import sys\nfrom codecbench.cli.main import main\n"
            f"try:\n    main({command!r})\nexcept SystemExit:\n    pass\n"
            "print('METADATA', 'importlib.metadata' in sys.modules)\n")
    env = {**os.environ, "CODECBENCH_CACHE_DIR": str(tmp_path / "cache")}

    def listing():
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120).stdout

    first = listing()
    assert first.strip().splitlines()[-1] == "METADATA True", first  # the scan
    for _ in range(3):  # a sys.path folder changed within the racy window: not yet stored
        if len(list((tmp_path / "cache").glob("*-*.json"))) == (2 if command[0] == "run" else 1):
            break
        time.sleep(entry_point_index.RACY_S)
        listing()
    second = listing()
    assert second.strip().splitlines()[-1] == "METADATA False", second
    if command[0] == "run":
        assert (tmp_path / "run" / "rows.csv").read_text().count("\n") == 1 + 6


def test_a_busy_working_directory_keeps_the_index(site, tmp_path, monkeypatch):
    """``python -m codecbench`` puts the working directory first on sys.path: files made
    there (run folders, logs) leave the index valid; a distribution placed there does not."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(sys, "path", [str(work), *sys.path])
    scans = _scans(monkeypatch)
    entry_point_index.entry_points(GROUP)
    (work / "results").mkdir()
    (work / "log.txt").write_text("x")
    entry_point_index.entry_points(GROUP)
    assert len(scans) == 1
    make_distribution(work, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN)
    assert "indexed" in {e.name for e in entry_point_index.entry_points(GROUP)}
    assert len(scans) == 2


def test_no_home_directory_means_no_index_but_every_plugin(site, monkeypatch):
    monkeypatch.delenv("CODECBENCH_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(entry_point_index.Path, "home", staticmethod(no_home))
    assert "metrics-basic" in {e.name for e in entry_point_index.entry_points(GROUP)}


def test_versions_come_from_the_index_and_follow_an_upgrade(site, monkeypatch):
    """The versions ``run.json`` records: those of the metadata, read once while nothing
    changed; an upgrade (a new ``*.dist-info`` folder) is seen at the next lookup."""
    import importlib.metadata

    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN, "2.5")
    _age(site, *site.rglob("*"))
    names = ["indexed-dist", "numpy", "no-such-distribution"]
    scans = []
    real = entry_point_index.scan_versions
    monkeypatch.setattr(entry_point_index, "scan_versions",
                        lambda wanted: scans.append(1) or real(wanted))
    expected = {"indexed-dist": "2.5", "numpy": importlib.metadata.version("numpy"),
                "no-such-distribution": None}
    assert entry_point_index.distribution_versions(names) == expected
    assert entry_point_index.distribution_versions(names) == expected
    assert len(scans) == 1
    for path in sorted(site.rglob("*"), reverse=True):  # uninstall, then install 2.6
        path.rmdir() if path.is_dir() else path.unlink()
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN, "2.6")
    _age(*site.rglob("*"))
    os.utime(site, (time.time() - 30, time.time() - 30))
    assert entry_point_index.distribution_versions(names)["indexed-dist"] == "2.6"
    assert len(scans) == 2


def test_versions_without_the_index_are_read_every_time(site, monkeypatch):
    monkeypatch.setenv("CODECBENCH_ENTRY_POINT_INDEX", "0")
    make_distribution(site, "indexed-dist", {"indexed": "indexed_plugin"}, PLUGIN, "2.5")
    _age(site, *site.rglob("*"))
    assert entry_point_index.distribution_versions(["indexed-dist"]) == {"indexed-dist": "2.5"}
    assert not list((site.parent / "cache").glob("versions-*.json"))
