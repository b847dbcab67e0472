"""Tasks cannot end or hang a run; a failing metric costs only its cell; plugin metrics
are first-class in every view; one run per run directory; exit status and run.json say
whether the run is complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import faulty_plugins as fp
from codecbench.api.metric import Measurement, MetricSpec, evaluation_order
from codecbench.api.registry import Registry
from codecbench.datasets.folder import FolderDataset
from codecbench.harness.run_lock import RunDirectoryInUse, RunLock
from codecbench.harness.runner import RunConfigError, run_evaluation
from codecbench.harness.task import measure
from helpers import run_cli

pytestmark = pytest.mark.no_frameworks

PLUGIN = {"faulty_plugin_module": """
    from faulty_plugins import register_codecs, register_metrics  # noqa: F401
"""}


@pytest.fixture
def registry():
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow", "metrics-basic", "metrics-structural"])
    return registry


def builtin_metrics(registry, names=("bpp", "psnr")):
    return [registry.get("metrics", n) for n in names]


# -- isolation -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", [fp.ExitsRun(), fp.HardExit()], ids=["SystemExit", "os._exit"])
def test_a_codec_that_exits_costs_only_its_tasks(registry, small_photo_dir, tmp_path, codec):
    summary = run_evaluation([codec], FolderDataset(small_photo_dir), builtin_metrics(registry),
                             tmp_path, progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert len(rows) == 6 and summary.rows == 6
    failed = rows[rows.quality == 9]
    assert len(failed) == 3 and (failed.error != "").all()
    assert (rows[rows.quality == 1].error == "").all()
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "complete"
    assert not summary.ok


def test_in_process_executor_turns_system_exit_into_an_error_row(registry, small_photo_dir,
                                                                  tmp_path):
    summary = run_evaluation([fp.ExitsRun()], FolderDataset(small_photo_dir),
                             builtin_metrics(registry), tmp_path, executor="in-process",
                             progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert summary.errors == 3
    assert rows[rows.quality == 9].error.str.contains("encode: SystemExit").all()


@pytest.mark.parametrize("executor", ["process", "in-process"])
def test_timeout_holds_against_a_codec_that_catches_exception(registry, small_photo_dir,
                                                              tmp_path, executor):
    start = time.monotonic()
    summary = run_evaluation([fp.SwallowsEverything()], FolderDataset(small_photo_dir),
                             builtin_metrics(registry), tmp_path, timeout=0.5,
                             executor=executor, progress=False)
    assert time.monotonic() - start < 30
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert rows[rows.quality == 9].error.str.startswith("timeout:").all()
    assert summary.errors == 3 and summary.rows == 6


@pytest.mark.slow
def test_cli_exit_status_is_zero_only_for_a_clean_run(fake_dists, small_photo_dir, tmp_path):
    fake_dists("faulty-dist", {"faulty": "faulty_plugin_module"}, PLUGIN)
    common = ["--dataset", str(small_photo_dir), "--metric", "psnr", "--no-progress"]
    clean = run_cli("run", "--codec", "jpeg", "--quality", "50", *common,
                    "--out", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    for codec in ("test/sys-exit", "test/os-exit"):
        out = tmp_path / codec.replace("/", "_")
        result = run_cli("run", "--codec", codec, *common, "--out", str(out))
        assert result.returncode == 1, result.stderr
        assert len(pd.read_csv(out / "rows.csv")) == 6
        assert json.loads((out / "run.json").read_text())["status"] == "complete"
    metric = run_cli("run", "--codec", "jpeg", "--quality", "50", "--dataset",
                     str(small_photo_dir), "--metric", "psnr", "--metric", "test-raises",
                     "--no-progress", "--out", str(tmp_path / "metric"))
    assert metric.returncode == 1 and "metric_errors" in metric.stderr


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_and_the_same_command_resumes(
        fake_dists, small_photo_dir, tmp_path):
    fake_dists("faulty-dist", {"faulty": "faulty_plugin_module"}, PLUGIN)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "codecbench", "run", "--codec", "test/sleepy",
               "--metric", "psnr", "--dataset", str(small_photo_dir), "--out", str(out),
               "--no-progress"]
    env = dict(os.environ, CODECBENCH_TEST_SLEEP="0.5")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if json.loads((out / "run.json").read_text()).get("status") == "running":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    record = json.loads((out / "run.json").read_text())
    if process.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert process.returncode == 130, stderr
    assert record["status"] == "interrupted"
    assert "interrupted after" in stderr.decode()
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


# -- one run per directory ---------------------------------------------------------------


def test_a_run_directory_in_use_is_refused_naming_the_process(registry, small_photo_dir,
                                                              tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from codecbench.harness.run_lock import RunLock\n"
         f"with RunLock({str(tmp_path)!r}, ['codecbench', 'run', '--out', 'x']):\n"
         "    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryInUse, match=rf"in use by process {holder.pid} .*"
                                                    r"\(codecbench run --out x\)"):
            run_evaluation([fp.LosslessZlib()], FolderDataset(small_photo_dir),
                           builtin_metrics(registry), tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its process: the run goes ahead
    summary = run_evaluation([fp.LosslessZlib()], FolderDataset(small_photo_dir),
                             builtin_metrics(registry), tmp_path, progress=False)
    assert summary.ok and summary.rows == 6
    with RunLock(tmp_path):  # and was released by the run
        pass


# -- metrics are first-class ------------------------------------------------------------


def test_a_failing_metric_costs_only_its_own_cell(registry, small_photo_dir, tmp_path):
    metrics = [*builtin_metrics(registry, ("bpp", "psnr", "ssim")), fp.Raises(),
               fp.ReturnsNone(), fp.OutOfRange(), fp.NotApplicable()]
    summary = run_evaluation([fp.LosslessZlib()], FolderDataset(small_photo_dir), metrics,
                             tmp_path, qualities=["1"], progress=False)
    assert summary.errors == 0 and summary.metric_error_rows == 3 and not summary.ok
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert len(rows) == 3 and (rows.error == "").all()
    assert (rows.bytes.astype(int) > 0).all() and (rows.ssim.astype(float) == 1.0).all()
    for cell in ("test-raises", "test-none", "test-out-of-range", "test-nan"):
        assert (rows[cell] == "").all()
    errors = [json.loads(text) for text in rows.metric_errors]
    for error in errors:
        assert set(error) == {"test-raises", "test-none", "test-out-of-range"}
        assert "RuntimeError: metric exploded" in error["test-raises"]
        assert "returned NoneType None, expected a number" in error["test-none"]
        assert "outside its valid range [0, 1]" in error["test-out-of-range"]
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert board["n_images"].tolist() == [3] and board["n_ssim"].tolist() == [3]
    assert board["n_test-raises"].tolist() == [0] and board["n_test-nan"].tolist() == [0]


def test_a_mean_says_how_many_images_it_is_over(registry, small_photo_dir, tmp_path):
    """MS-SSIM needs 161 px: on a folder with one smaller image its mean is over fewer
    images than PSNR's, and the leaderboard says so."""
    from PIL import Image

    Image.fromarray(np.zeros((100, 120, 3), np.uint8) + 90).save(small_photo_dir / "tiny.png")
    run_evaluation([registry.get("codecs", "jpeg")], FolderDataset(small_photo_dir),
                   builtin_metrics(registry, ("psnr", "ms-ssim")), tmp_path,
                   qualities=["50"], progress=False)
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert board[["n_images", "n_psnr", "n_ms-ssim"]].values.tolist() == [[4, 4, 3]]
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    tiny = rows[rows.image_id == "tiny.png"].iloc[0]
    assert tiny.psnr != "" and tiny["ms-ssim"] == ""
    assert "ImageTooSmallError" in json.loads(tiny.metric_errors)["ms-ssim"]


def test_derived_metric_reuses_its_base_value(registry, photo, monkeypatch):
    from codecbench.metrics import structural

    calls = []
    original = structural._ms_ssim
    monkeypatch.setattr(structural, "_ms_ssim",
                        lambda *a: calls.append(1) or original(*a))
    big = np.ascontiguousarray(np.tile(photo, (2, 2, 1))[:180, :200])
    noisy = np.clip(big.astype(int) + 3, 0, 255).astype(np.uint8)
    derived, base = registry.get("metrics", "ms-ssim-db"), registry.get("metrics", "ms-ssim")
    assert [m.name for m in evaluation_order((derived, base))] == ["ms-ssim", "ms-ssim-db"]
    values, errors, _ = measure((derived, base), big, noisy, 100, None)
    assert not errors and len(calls) == 1
    assert values["ms-ssim-db"] == pytest.approx(-10 * np.log10(1 - values["ms-ssim"]))
    # given a value, the derived metric uses it, whatever the images
    assert derived.compute(Measurement(big, big, 0, values={"ms-ssim": 0.9})) == pytest.approx(10)


def test_metric_version_goes_into_run_json_and_refuses_mixing(registry, small_photo_dir,
                                                              tmp_path, monkeypatch):
    data = FolderDataset(small_photo_dir)
    metric = fp.MeanAbsoluteError()
    run_evaluation([fp.LosslessZlib()], data, [metric], tmp_path, progress=False)
    record = json.loads((tmp_path / "run.json").read_text())
    spec = MetricSpec.from_record(record["metrics"][0])
    assert spec == metric.spec() and spec.version == "1" and spec.rd_axis
    assert record["fingerprint"]["metrics"] == {"test-mae": "1"}
    metric.version = "2"
    with pytest.raises(RunConfigError, match=r"other metric versions \(test-mae '1' → '2'\)"):
        run_evaluation([fp.LosslessZlib()], data, [metric], tmp_path, progress=False)


def test_metric_spec_rules():
    spec = MetricSpec("x", valid_range=(0.0, 1.0))
    assert spec.problem(0.5) == "" and spec.problem(float("nan")) == ""
    assert "expected a number" in spec.problem(None)
    assert "expected a number" in spec.problem("0.5") and "expected a number" in spec.problem(True)
    assert "finite" in spec.problem(float("inf"))
    assert "outside" in spec.problem(1.5) and "outside" in spec.problem(-0.1)
    assert MetricSpec("p", allows_infinity=True, valid_range=(0, float("inf"))).problem(
        float("inf")) == ""
    assert MetricSpec.from_record(spec.as_record()) == spec


@pytest.mark.slow
def test_plugin_metric_shows_in_md_html_plots_and_bd(fake_dists, small_photo_dir, tmp_path):
    fake_dists("faulty-dist", {"faulty": "faulty_plugin_module"}, PLUGIN)
    out = tmp_path / "run"
    ran = run_cli("run", "--codec", "jpeg", "--codec", "webp", "--dataset", str(small_photo_dir),
                  "--metric", "psnr", "--metric", "test-mae", "--metric", "test-raises",
                  "--quality", "10", "--quality", "30", "--quality", "50", "--quality", "70",
                  "--quality", "90", "--no-progress", "--out", str(out))
    assert ran.returncode == 1, ran.stderr  # test-raises failed on every row ...
    rows = pd.read_csv(out / "rows.csv", keep_default_na=False)
    assert (rows.error == "").all() and (rows["test-mae"] != "").all()  # ... and only there
    shown = run_cli("leaderboard", str(out), "--format", "md", "--format", "html",
                    "--format", "csv")
    assert shown.returncode == 0, shown.stderr
    md = (out / "leaderboard.md").read_text()
    assert "BD-rate test-mae %" in md and "BD test-mae" in md and "| test-mae |" in md
    assert "BD-rate test-mae %" in (out / "leaderboard.html").read_text()
    assert [p.name for p in (out / "plots").glob("rd-*-test-mae.svg")]
    bd = pd.read_csv(out / "bd.csv")
    mae = bd[bd.metric == "test-mae"]
    assert len(mae) == 1 and np.isfinite(mae.bd_rate_pct.iloc[0])
    # lower is better: the sign convention is the same as for PSNR
    psnr = bd[bd.metric == "psnr"]
    assert np.sign(mae.bd_rate_pct.iloc[0]) == np.sign(psnr.bd_rate_pct.iloc[0])
    assert np.sign(mae.bd_metric.iloc[0]) == np.sign(psnr.bd_metric.iloc[0])
    # the plugin need not be installed to lay out its metric: run.json says what it is
    only = run_cli("leaderboard", str(out), "--metric", "test-mae", "--format", "md",
                   "--out", str(tmp_path / "views"), env={"CODECBENCH_LOAD_PLUGINS":
                                                            "classic-pillow,metrics-basic"})
    assert only.returncode == 0, only.stderr
    md = (tmp_path / "views" / "leaderboard.md").read_text()
    assert "BD-rate test-mae %" in md and "BD-rate psnr %" not in md
    missing = run_cli("leaderboard", str(out), "--metric", "nope")
    assert missing.returncode == 1 and "no metric column 'nope'" in missing.stderr


def test_markdown_escapes_html_in_codec_names():
    from codecbench.report.publish import build_report, markdown

    table = pd.DataFrame({
        "dataset": ["d", "d"], "codec": ['<img src=x onerror="alert(1)">', "jpeg"],
        "codec_version": ["1", "1"], "framework": ["x", "x"], "family": ["other", "other"],
        "quality": ["1", "1"], "bpp": [0.5, 0.6], "psnr": [30.0, 31.0], "n_psnr": [1, 1],
        "n_images": [1, 1], "n_errors": [0, 0]})
    text = markdown(build_report(table))
    assert "<img" not in text and "&lt;img src=x onerror=\"alert(1)\"&gt;" in text


@pytest.mark.slow
def test_workers_end_when_the_run_is_killed(fake_dists, small_photo_dir, tmp_path):
    """A worker stuck in a task must not outlive a run killed with SIGKILL."""
    fake_dists("faulty-dist", {"faulty": "faulty_plugin_module"}, PLUGIN)
    out = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "codecbench", "run", "--codec", "test/swallows", "--quality",
         "9", "--metric", "psnr", "--dataset", str(small_photo_dir), "--out", str(out),
         "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = out / "run.lock"
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        time.sleep(0.2)
        children = Path(f"/proc/{run.pid}/task/{run.pid}/children")
        if lock.exists() and children.exists():
            workers = [int(p) for p in children.read_text().split()]
    assert workers, "the run started no worker"
    time.sleep(1.0)  # the worker is now inside the endless task
    run.kill()
    run.wait(timeout=10)
    gone_by = time.monotonic() + 10
    while time.monotonic() < gone_by and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
