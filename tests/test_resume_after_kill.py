"""SIGKILL during `codecbench run`, then the same command: complete results, no duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

pytestmark = pytest.mark.no_frameworks

PLUGIN = {"sleepy_plugin": """
    import codecs_for_tests as tc
    from codecbench import hookimpl

    @hookimpl
    def register_codecs(register):
        register(tc.Sleepy())
"""}


def count_rows(db):
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigkill_then_rerun_resumes_without_duplicates(fake_dists, tmp_path, small_photo_dir, jobs):
    fake_dists("sleepy-dist", {"sleepy": "sleepy_plugin"}, PLUGIN)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "codecbench", "run", "--codec", "test/sleepy", "--codec",
               "jpeg", "--dataset", str(small_photo_dir), "--out", str(out), "-j", jobs,
               "--no-progress"]
    env = dict(os.environ, CODECBENCH_TEST_SLEEP="0.25")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    db = out / "results.sqlite"
    deadline = time.monotonic() + 120
    while count_rows(db) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: parent and workers
    process.wait(timeout=30)
    killed_at = count_rows(db)
    expected = 3 * (2 + 12)  # 3 images × (sleepy 2 qualities + jpeg 12 qualities)
    assert 3 <= killed_at < expected, "the kill must land mid-run"
    assert not (out / "rows.csv").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{expected - killed_at} tasks computed" in resumed.stdout
    rows = pd.read_csv(out / "rows.csv", keep_default_na=False)
    assert len(rows) == expected
    assert not rows.duplicated(["codec", "quality", "dataset", "image_id"]).any()
    assert (rows["error"] == "").all()
