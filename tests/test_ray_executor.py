"""``--executor ray`` on a real local Ray cluster: a head and a second node process on
127.0.0.1, started by this module and torn down after it.

The sample set through Ray gives the bytes and metrics of the process pool; a Ray worker
killed mid-run still gives a complete, duplicate-free result (Ray retries its task once),
and so does a node lost mid-run (its tasks go to the nodes left); a driver killed mid-run
is resumed by the same command, computing only what is missing.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from helpers import TESTS_DIR, run_cli  # noqa: E402

pytestmark = [pytest.mark.no_frameworks, pytest.mark.slow]

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 180
SLEEP_S = "1.0"
SLEEPY_PLUGIN = {"sleepy_plugin": """
    import codecs_for_tests as tc
    from codecbench import hookimpl

    @hookimpl
    def register_codecs(register):
        register(tc.Sleepy())
"""}
TIMING = {"encode_s", "decode_s"}


NODE_OPTIONS = ["--num-cpus=1", "--object-store-memory=100000000",
                "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
"""Every node of the test clusters: one CPU, a small object store, on 127.0.0.1."""


def _node_env() -> dict[str, str]:
    """The environment a node starts in: the test codecs importable, the sleepy codec's
    sleep set, no usage statistics."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "CODECBENCH_TEST_SLEEP": SLEEP_S, "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """``ray start --head`` and one more node on 127.0.0.1, one CPU each."""
    if not Path(RAY).is_file():
        pytest.skip("the ray command is not installed next to this Python")
    temp = tempfile.mkdtemp(prefix="cbray", dir="/tmp")  # Ray's socket paths must be short
    # a throw-away cluster on 127.0.0.1: no token authentication (drivers included)
    previous_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = _node_env()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false",
                        f"--temp-dir={temp}", *NODE_OPTIONS], env=env, check=True,
                       capture_output=True, timeout=START_TIMEOUT_S)
        subprocess.run([RAY, "start", f"--address={address}", *NODE_OPTIONS], env=env, check=True,
                       capture_output=True, timeout=START_TIMEOUT_S)
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
        if previous_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_auth


def rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "rows.csv", newline="") as handle:
        return sorted(({k: v for k, v in row.items() if k not in TIMING}
                       for row in csv.DictReader(handle)),
                      key=lambda r: (r["codec"], r["quality"], r["image_id"]))


def stored_rows(run_dir: Path) -> int:
    try:
        with sqlite3.connect(run_dir / "results.sqlite", timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.Error:
        return 0


def assert_every_sleepy_task_once(out: Path) -> None:
    """The sleepy run in ``out`` is complete: 2 qualities × 6 photos, each once, none an
    error row."""
    result = rows(out)
    keys = [(r["codec"], r["quality"], r["image_id"]) for r in result]
    assert len(keys) == len(set(keys)) == 12
    assert all(not r["error"] for r in result), [r["error"] for r in result]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_the_sample_set_through_ray_equals_the_process_pool(cluster, tmp_path):
    arguments = ["run", "--codec", "jpeg", "--codec", "webp", "--quality", "50",
                 "--metric", "psnr", "--metric", "ssim", "--no-progress"]
    pool = run_cli(*arguments, "--out", str(tmp_path / "pool"), "-j", "2")
    assert pool.returncode == 0, pool.stderr
    ray_run = run_cli(*arguments, "--out", str(tmp_path / "ray"), "--ray-address", cluster)
    assert ray_run.returncode == 0, ray_run.stderr
    assert rows(tmp_path / "ray") == rows(tmp_path / "pool")  # bytes and metrics alike
    # the dataset path is shared by both nodes here: the workers may read the images
    shared = run_cli(*arguments, "--out", str(tmp_path / "shared"), "--ray-address", cluster,
                     "--executor-option", "images=workers")
    assert shared.returncode == 0, shared.stderr
    assert rows(tmp_path / "shared") == rows(tmp_path / "pool")
    assert json.loads((tmp_path / "shared" / "run.json").read_text())["executor"]["images"] \
        == "workers"
    executor = json.loads((tmp_path / "ray" / "run.json").read_text())["executor"]
    assert executor["name"] == "ray" and executor["nodes"] == 2 and executor["cpus"] == 2


def _sleepy_command(address: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "codecbench", "run", "--codec", "test/sleepy",
            "--metric", "psnr", "--no-progress", "--out", str(out), "--ray-address", address]


def test_a_killed_ray_worker_costs_nothing(cluster, tmp_path, fake_dists):
    fake_dists("sleepy-dist", {"sleepy": "sleepy_plugin"}, SLEEPY_PLUGIN)
    out = tmp_path / "run"
    driver = subprocess.Popen(_sleepy_command(cluster, out), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: stored_rows(out) >= 1, START_TIMEOUT_S, "a first row")
        busy: list[str] = []

        def a_busy_worker() -> bool:
            found = subprocess.run(["pgrep", "-f", "ray::TaskRunner.evaluate"], capture_output=True,
                                   text=True).stdout.split()
            busy[:] = found
            return bool(found)

        wait_for(a_busy_worker, 60, "a worker running a task")
        os.kill(int(busy[0]), signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        driver.kill()
    assert driver.returncode == 0, stderr
    assert_every_sleepy_task_once(out)


def test_a_killed_driver_resumes_with_the_missing_tasks_only(cluster, tmp_path, fake_dists):
    fake_dists("sleepy-dist", {"sleepy": "sleepy_plugin"}, SLEEPY_PLUGIN)
    out = tmp_path / "run"
    driver = subprocess.Popen(_sleepy_command(cluster, out), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: stored_rows(out) >= 2, START_TIMEOUT_S, "two rows")
    finally:
        driver.kill()
        driver.wait(timeout=30)
    kept = stored_rows(out)
    assert 2 <= kept < 12
    again = subprocess.run(_sleepy_command(cluster, out), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{12 - kept} tasks computed, {kept} kept from earlier invocations" in again.stdout
    assert len(rows(out)) == 12


HANGS_PLUGIN = {"hangs_plugin": """
    import codecs_for_tests as tc
    from codecbench import hookimpl

    @hookimpl
    def register_codecs(register):
        register(tc.Hangs())
"""}


def test_a_task_past_its_timeout_is_cancelled(cluster, tmp_path, fake_dists):
    fake_dists("hangs-dist", {"hangs": "hangs_plugin"}, HANGS_PLUGIN)
    result = run_cli("run", "--codec", "test/hangs", "--metric", "psnr", "--no-progress",
                     "--max-images", "2", "--dataset", str(TESTS_DIR.parent / "src" /
                                                          "codecbench" / "datasets" / "sample"),
                     "--out", str(tmp_path / "run"), "--ray-address", cluster,
                     "--timeout", "2", "--executor-option", "startup-grace=3", timeout=300)
    assert result.returncode == 1
    by_quality = {}
    for row in rows(tmp_path / "run"):
        by_quality.setdefault(row["quality"], []).append(row["error"])
    assert by_quality["1"] == ["", ""]
    assert all(error.startswith("timeout: task did not finish within 2 s")
               for error in by_quality["9"])


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                         text=True).stdout.split()):
        found += [child, *_descendants(child)]
    return found


def test_a_lost_node_costs_only_a_rerun_of_its_tasks(cluster, tmp_path, fake_dists):
    """A third node joins, then dies mid-run (its raylet and every process under it
    killed): its tasks run again on the two nodes left, none lost, none twice."""
    fake_dists("sleepy-dist", {"sleepy": "sleepy_plugin"}, SLEEPY_PLUGIN)
    port = _free_port()
    subprocess.run([RAY, "start", f"--address={cluster}", *NODE_OPTIONS,
                    f"--node-manager-port={port}"], env=_node_env(), check=True,
                   capture_output=True, timeout=START_TIMEOUT_S)
    out = tmp_path / "run"
    driver = subprocess.Popen(_sleepy_command(cluster, out), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: stored_rows(out) >= 1, START_TIMEOUT_S, "a first row")
        raylet = subprocess.run(["pgrep", "-f", f"raylet.*node_manager_port={port}"],
                                capture_output=True, text=True).stdout.split()
        assert len(raylet) == 1, raylet
        node = [int(raylet[0]), *_descendants(int(raylet[0]))]
        for pid in node:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        driver.kill()
    assert driver.returncode == 0, stderr
    assert_every_sleepy_task_once(out)
    assert json.loads((out / "run.json").read_text())["executor"]["nodes"] == 3


CONNECTION_PROBE = """
import sys
import ray
from codecbench.codecs.classic.pillow_codecs import PillowJpeg
from codecbench.datasets.builtin import sample_dataset
from codecbench.harness.executors.ray_cluster import RayExecutor, RaySettings
from codecbench.harness.runner import run_evaluation
from codecbench.metrics.basic import PSNR

address, out, who = sys.argv[1:]
if who == "caller":
    ray.init(address=address, log_to_driver=False, include_dashboard=False)
executor = RayExecutor(RaySettings(address=address, workers=2))
summary = run_evaluation([PillowJpeg()], sample_dataset(), [PSNR()], out, qualities=["50"],
                         executor=executor, progress=False)
print("RESULT", summary.tasks_computed, summary.errors, ray.is_initialized())
"""


@pytest.mark.parametrize(("who", "connected_after"), [("executor", False), ("caller", True)])
def test_the_executor_disconnects_what_it_connected_and_only_that(cluster, tmp_path, who,
                                                                  connected_after):
    """A run that joined the cluster itself leaves it at its end (not at interpreter exit);
    a connection the caller made before the run stays open for the caller."""
    probe = subprocess.run([sys.executable, "-c", CONNECTION_PROBE, cluster,
                            str(tmp_path / "run"), who], capture_output=True, text=True,
                           timeout=START_TIMEOUT_S)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split()[-4:] == ["RESULT", "6", "0", str(connected_after)]
