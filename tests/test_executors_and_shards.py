"""Executors are plugins (``register_executors``); ``--shard I/N`` and the shards' merge."""

from __future__ import annotations

import csv
import json

import pytest

from codecbench.api.executor import ExecutorOptionError, ExecutorOptions
from codecbench.frameworks.devices import device_environment
from codecbench.harness.executors import BUILTIN_TYPES, make_executor
from codecbench.harness.shards import Shard
from helpers import run_cli

TIMING = {"encode_s", "decode_s"}
RUN = ["run", "--codec", "jpeg", "--codec", "webp", "--quality", "50", "--quality", "80",
       "--metric", "psnr", "--metric", "ssim", "--no-progress"]

COUNTING_EXECUTOR = {
    "counting_executor": """
        from pathlib import Path

        from codecbench import hookimpl
        from codecbench.api.executor import ExecutorOptionError, ExecutorType
        from codecbench.harness.executors import Executor
        from codecbench.harness.task import evaluate


        class CountingExecutor(Executor):
            def __init__(self, log, timeout):
                super().__init__(timeout)
                self.log = Path(log)

            def run(self, tasks):
                for task in tasks:
                    with self.log.open("a") as handle:
                        handle.write(task.codec.name + "\\n")
                    yield evaluate(task)

            def describe(self):
                return {"name": "counting", "log": str(self.log)}


        class CountingType(ExecutorType):
            name = "counting"
            description = "evaluates tasks here and logs each (a test plugin)"

            def create(self, options):
                options.refuse_unknown(self.name, ("log",))
                if options.setting("log") is None:
                    raise ExecutorOptionError("executor 'counting' needs --executor-option log=PATH")
                return CountingExecutor(options.setting("log"), options.timeout)


        @hookimpl
        def register_executors(register):
            register(CountingType())
    """
}


def leaderboard_rows(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING}
                for row in csv.DictReader(handle)]


def test_builtin_executors_are_registered_types():
    assert set(BUILTIN_TYPES) == {"process", "in-process", "ray"}
    assert type(make_executor(2)).__name__ == "ProcessExecutor"
    with pytest.raises(ExecutorOptionError, match="one task at a time"):
        BUILTIN_TYPES["in-process"].create(ExecutorOptions(workers=3))
    with pytest.raises(ExecutorOptionError, match="has no option 'address'"):
        BUILTIN_TYPES["process"].create(ExecutorOptions(settings={"address": "x"}))


def test_a_third_party_executor_is_listed_and_used(fake_dists, tmp_path, small_photo_dir):
    fake_dists("counting-dist", {"counting": "counting_executor"}, COUNTING_EXECUTOR)
    listing = run_cli("list", "executors", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "counting" in listing.stdout and "process (default)" in listing.stdout
    log = tmp_path / "tasks.log"
    arguments = ["run", "--codec", "jpeg", "--quality", "50", "--metric", "psnr",
                 "--dataset", str(small_photo_dir), "--no-progress"]
    result = run_cli(*arguments, "--out", str(tmp_path / "run"), "--executor", "counting",
                     "--executor-option", f"log={log}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["jpeg"] * 3
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["executor"] == {"name": "counting", "log": str(log)}
    pool = run_cli(*arguments, "--out", str(tmp_path / "pool"), cwd=tmp_path)
    assert pool.returncode == 0, pool.stderr
    assert leaderboard_rows(tmp_path / "run" / "leaderboard.csv") == \
        leaderboard_rows(tmp_path / "pool" / "leaderboard.csv")
    refused = run_cli(*arguments, "--out", str(tmp_path / "x"), "--executor", "counting",
                      cwd=tmp_path)
    assert refused.returncode != 0 and "needs --executor-option log=PATH" in refused.stderr


def test_shard_membership_is_a_partition():
    keys = [("jpeg", str(q), "sample", f"img{i}") for q in range(10) for i in range(30)]
    shards = [Shard(i, 4) for i in range(1, 5)]
    owners = [[s for s in shards if s.contains(k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(s.contains(k) for k in keys) for s in shards]
    assert min(sizes) > 0.15 * len(keys)
    assert Shard.parse(" 2 / 4 ") == Shard(2, 4)
    for bad in ("0/3", "4/3", "2", "a/b"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


@pytest.mark.slow
def test_three_shards_merged_equal_the_whole_run(tmp_path):
    whole = run_cli(*RUN, "--out", str(tmp_path / "whole"), "-j", "2")
    assert whole.returncode == 0, whole.stderr
    counts = []
    for index in (1, 2, 3):
        shard = run_cli(*RUN, "--out", str(tmp_path / f"s{index}"), "--shard", f"{index}/3")
        assert shard.returncode == 0, shard.stderr
        with open(tmp_path / f"s{index}" / "rows.csv") as handle:
            counts.append(sum(1 for _ in handle) - 1)
    assert sum(counts) == 24 and all(counts)  # 2 codecs × 2 qualities × 6 photos
    merged = run_cli("leaderboard", "merge", *(str(tmp_path / f"s{i}") for i in (1, 2, 3)),
                     "-o", str(tmp_path / "merged.csv"), "--run-dir", str(tmp_path / "run"))
    assert merged.returncode == 0, merged.stderr
    assert leaderboard_rows(tmp_path / "merged.csv") == \
        leaderboard_rows(tmp_path / "whole" / "leaderboard.csv")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "complete"
    # a missing shard: an incomplete merge, exit status 1
    partial = run_cli("leaderboard", "merge", str(tmp_path / "s1"), str(tmp_path / "s3"),
                      "-o", str(tmp_path / "partial.csv"))
    assert partial.returncode == 1 and "shards missing: 2/3" in partial.stderr
    # the same shard twice, a shard of another run: refused
    twice = run_cli("leaderboard", "merge", str(tmp_path / "s1"), str(tmp_path / "s1"),
                    "-o", str(tmp_path / "twice.csv"))
    assert twice.returncode != 0 and "both shard 1/3" in twice.stderr
    other = run_cli(*RUN[:-1], "--quality", "30", "--no-progress", "--out",
                    str(tmp_path / "o2"), "--shard", "2/3")
    assert other.returncode == 0, other.stderr
    mixed = run_cli("leaderboard", "merge", str(tmp_path / "s1"), str(tmp_path / "o2"),
                    "-o", str(tmp_path / "mixed.csv"))
    assert mixed.returncode != 0 and "shard of another run" in mixed.stderr
    # a shard's folder does not take another shard
    again = run_cli(*RUN, "--out", str(tmp_path / "s1"), "--shard", "2/3")
    assert again.returncode != 0 and "holds shard 1/3" in again.stderr


def test_device_option_sets_both_frameworks():
    assert device_environment("cuda:1") == {"CODECBENCH_TORCH_DEVICE": "cuda:1",
                                            "CODECBENCH_TF_DEVICE": "gpu:1"}
    assert device_environment("cpu")["CODECBENCH_TF_DEVICE"] == "cpu"
    for bad in ("gpu", "cuda:x", "cpu:0", "tpu"):
        with pytest.raises(ValueError, match="use cpu, cuda or cuda:N"):
            device_environment(bad)
    result = run_cli(*RUN, "--device", "tpu")
    assert result.returncode != 0 and "unknown device 'tpu'" in result.stderr


def test_process_executor_reads_ahead_and_feeds_its_worker_before_passing_rows_on():
    """With one worker: the next task is read (its image loaded) while the worker computes,
    and the worker has its next task before the run gets (and stores) the previous row."""
    import numpy as np

    from codecbench.codecs.classic.pillow_codecs import PillowJpeg
    from codecbench.harness.executors.process_pool import ProcessExecutor
    from codecbench.harness.task import Task
    from codecbench.metrics.basic import BitsPerPixel

    image = np.zeros((8, 8, 3), np.uint8)
    codec, metrics = PillowJpeg(), (BitsPerPixel(),)
    events = []

    def tasks():
        for quality in (50, 60, 70):
            events.append(f"read {quality}")
            yield Task(codec, "v", quality, "d", "img", image, metrics)

    with ProcessExecutor(1) as pool:
        for row in pool.run(tasks()):
            assert not row.error, row.error
            events.append(f"row {row.quality}")
    assert events == ["read 50", "read 60", "row 50", "read 70", "row 60", "row 70"]
