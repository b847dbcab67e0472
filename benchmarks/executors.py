"""The same evaluation through every built-in executor on this machine: throughput ratios.

Each configuration runs one ``codecbench run`` command (a fresh run folder) and its
throughput is the tasks it computed per second of the whole command (interpreter start,
plugin discovery, Ray start-up or connection, exports included):

* ``in-process``: one task at a time in the command's process;
* ``process``: ``-j W`` worker processes (the default executor);
* ``ray-local``: ``--executor ray -j W``, a Ray instance started by the command;
* ``ray-2-nodes``: ``--ray-address``, a cluster of two local nodes (``ray start --head`` on
  127.0.0.1 plus a second node process, ``W/2`` CPUs each) started by this script.

Printed: tasks, seconds, tasks/s and the ratio to ``process`` per configuration, for three
workloads on the sample set — ``default``, the default run itself (``codecbench run`` with
no ``--codec`` and no ``--metric``: classical and learned codecs, every default metric);
``classical``, its classical codecs alone (a short run, where fixed start-up costs weigh
most); and ``learned``, one learned codec (``torch/bmshj2018-hyperprior``, every rate
point). Goal: ``ray-2-nodes`` ≥ 0.9× ``process``.

Usage: ``python benchmarks/executors.py [--workers 2] [--workload default|classical|learned|all]
[--executors process,ray-2-nodes] [--repeats 3]``. With ``--repeats N`` the configurations
run N times, interleaved (a shared VM's speed drifts), and each row is the median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
METRICS = ["--metric", "bpp", "--metric", "psnr", "--metric", "ssim"]
WORKLOADS = {
    "default": [],
    "classical": ["--codec", "jpeg", "--codec", "jpeg-444", "--codec", "jpeg2000",
                  "--codec", "webp", "--codec", "jpegxl", *METRICS],
    "learned": ["--codec", "torch/bmshj2018-hyperprior", *METRICS],
}
"""``codecbench run`` options of each workload (``default``: none, the default run)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(cpus_per_node: int, temp: str) -> str:
    port = free_port()
    common = [f"--num-cpus={cpus_per_node}", "--object-store-memory=200000000",
              "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false",
                    f"--temp-dir={temp}", *common], check=True, capture_output=True)
    subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", *common], check=True,
                   capture_output=True)
    return f"127.0.0.1:{port}"


def timed_run(arguments: list[str], out: Path) -> tuple[int, float]:
    command = [sys.executable, "-m", "codecbench", "run", *arguments, "--out", str(out),
               "--no-progress"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    record = json.loads((out / "run.json").read_text())
    return int(record["rows"]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all")
    parser.add_argument("--executors", default="in-process,process,ray-local,ray-2-nodes",
                        help="comma-separated configurations (process is always run)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.workers < 2 or args.workers % 2:
        raise SystemExit("--workers must be even (two Ray nodes of W/2 CPUs each)")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throw-away local cluster
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    temp = tempfile.mkdtemp(prefix="cbray", dir="/tmp")
    scratch = Path(tempfile.mkdtemp(prefix="codecbench-executors-"))
    try:
        address = start_cluster(args.workers // 2, temp)
        configurations = {
            "in-process": ["--executor", "in-process"],
            "process": ["-j", str(args.workers)],
            "ray-local": ["--executor", "ray", "-j", str(args.workers)],
            "ray-2-nodes": ["--ray-address", address, "-j", str(args.workers)],
        }
        wanted = {"process", *args.executors.split(",")}
        unknown = wanted - set(configurations)
        if unknown:
            raise SystemExit(f"unknown executors: {', '.join(sorted(unknown))}")
        configurations = {k: v for k, v in configurations.items() if k in wanted}
        for workload in workloads:
            described = " ".join(WORKLOADS[workload]) or "the default run (no options)"
            print(f"\nworkload {workload}: {described}, sample set, {args.workers} workers")
            print("| executor | tasks | seconds | tasks/s | × process |")
            print("|---|---|---|---|---|")
            timings: dict[str, list[tuple[int, float]]] = {name: [] for name in configurations}
            for repeat in range(args.repeats):
                for name, options in configurations.items():
                    out = scratch / f"{workload}-{name}-{repeat}"
                    timings[name].append(
                        timed_run([*WORKLOADS[workload], *options], out))
            results = {name: (runs[0][0], statistics.median(s for _, s in runs))
                       for name, runs in timings.items()}
            base = results["process"][0] / results["process"][1]
            for name, (tasks, seconds) in results.items():
                rate = tasks / seconds
                print(f"| {name} | {tasks} | {seconds:.1f} | {rate:.2f} | {rate / base:.2f} |")
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True)
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
