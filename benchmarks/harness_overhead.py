"""Harness overhead: `codecbench run` (JPEG, sample set, -j 1) vs a bare Pillow loop.

Both sides do the same work on the same images: read the 6 bundled PNGs,
encode every JPEG quality point with Pillow (4:2:0, same settings), decode,
and compute bpp and PSNR. The harness additionally hashes the dataset, checks
the decoded image, commits every row to SQLite, writes rows.csv,
leaderboard.csv and run.json, and keeps provenance.

Two measurements, each the median of the ratios of ``--repeats`` *paired* runs
(bare loop, then harness, back to back): on a shared VM the CPU speed drifts
by 2× between runs, and pairing cancels that drift:

* in-process: ``run_evaluation(...)`` vs the bare loop, both after imports
  (the per-run cost a user pays for the harness's bookkeeping);
* whole command: ``codecbench run ...`` as a subprocess vs ``python bare_loop``
  as a subprocess (adds interpreter start-up, imports — click, every plugin's modules;
  no pandas, and no tqdm with ``--no-progress`` — and the default ``process``
  executor's worker, to which every task and image travels).

A third measurement times ``codecbench list codecs`` (the installed console script: start-up,
plugin discovery from the entry-point index, every plugin's registration, the availability
checks) against its floor, an interpreter that only imports click, pluggy and Pillow, the
three libraries it cannot do without; medians of ``--list-runs`` alternating runs, after one
warm-up run that writes the index.

Usage: ``python benchmarks/harness_overhead.py [--repeats 7]``. Goals: in-process ratio <= 1.05,
whole command <= 1.3, ``codecbench list codecs`` <= 0.2 s.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from paired_timing import harness_on_sample, timed
from PIL import Image

from codecbench.codecs.classic.pillow_codecs import PillowJpeg
from codecbench.datasets.builtin import SAMPLE_DIR

QUALITIES = PillowJpeg.qualities


def bare_loop() -> list[tuple[str, int, float, float]]:
    """The same work with no harness: Pillow encode/decode and the two formulas."""
    results = []
    for path in sorted(SAMPLE_DIR.glob("*.webp")):
        with Image.open(path) as img:
            img.load()
            image = np.array(img)
        height, width = image.shape[:2]
        for quality in QUALITIES:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=2,
                                        optimize=False, progressive=False)
            data = buffer.getvalue()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                decoded = np.array(img)
            bpp = 8.0 * len(data) / (height * width)
            diff = image.astype(np.int32) - decoded  # the same exact integer SSE as `psnr`
            sse = int(np.multiply(diff, diff, out=diff).sum(dtype=np.int64))
            psnr = 10.0 * math.log10(255.0**2 / (sse / diff.size))
            results.append((path.name, quality, bpp, psnr))
    return results


def harness_run(out_dir: Path):
    return harness_on_sample(PillowJpeg(), out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--list-runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm-up both (imports, file cache), and check they compute the same numbers
        summary = harness_run(tmp / "warm")
        bare = bare_loop()
        table = summary.leaderboard
        bare_bpp = np.mean([r[2] for r in bare if r[1] == 75])
        harness_bpp = float(table[table.quality == "75"]["bpp"].iloc[0])
        assert abs(bare_bpp - harness_bpp) < 1e-12, (bare_bpp, harness_bpp)

        ratios, extra = [], []
        for i in range(args.repeats):
            bare_s = timed(bare_loop)
            harness_s = timed(harness_run, tmp / f"run{i}")
            ratios.append(harness_s / bare_s)
            extra.append(harness_s - bare_s)

        cli = [sys.executable, "-m", "codecbench", "run", "--codec", "jpeg", "--metric", "bpp",
               "--metric", "psnr", "-j", "1", "--no-progress"]
        bare_cli = [sys.executable, __file__, "--bare-only"]
        cli_ratios = []
        for i in range(max(3, args.repeats // 3)):
            bare_cli_s = _run_timed(bare_cli)
            cli_ratios.append(_run_timed([*cli, "--out", str(tmp / f"cli{i}")]) / bare_cli_s)

    list_s, floor_s = list_timings(args.list_runs)
    tasks = len(bare)
    print(f"workload: JPEG x {len(QUALITIES)} qualities x 6 sample photos = {tasks} tasks, -j 1")
    print(f"in-process    harness/bare ratio: median {statistics.median(ratios):.3f} "
          f"(quartiles {_quartiles(ratios)}) over {len(ratios)} paired runs")
    print(f"              harness extra time per run: median {statistics.median(extra) * 1000:.0f} ms "
          f"({statistics.median(extra) / tasks * 1000:.2f} ms per task)")
    print(f"whole command harness/bare ratio: median {statistics.median(cli_ratios):.3f} "
          f"(includes interpreter start, imports and plugin discovery)")
    print(f"codecbench list codecs: median {statistics.median(list_s):.3f} s "
          f"(min {min(list_s):.3f}) over {len(list_s)} runs; floor (import click, pluggy, "
          f"PIL.Image) median {statistics.median(floor_s):.3f} s")


def _quartiles(values) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.3f}-{q3:.3f}"


def list_timings(runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of ``codecbench list codecs`` and of its floor, alternating."""
    script = Path(sys.executable).with_name("codecbench")
    listing = [str(script)] if script.exists() else [sys.executable, "-m", "codecbench"]
    listing += ["list", "codecs"]
    floor = [sys.executable, "-c", "import click, pluggy, PIL.Image"]
    _run_timed(listing)  # writes the entry-point index
    list_s, floor_s = [], []
    for _ in range(runs):
        list_s.append(_run_timed(listing))
        floor_s.append(_run_timed(floor))
    return list_s, floor_s


def _run_timed(command) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    if "--bare-only" in sys.argv:
        bare_loop()
    else:
        main()
