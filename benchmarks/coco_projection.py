"""Projected time and cost of the survey's COCO comparison, from per-task costs measured here.

Measured on this machine, in one run:

1. the default run (``codecbench run``, sample set, ``-j W``) as a subprocess: its tasks,
   wall time and CPU time (user + system of the command and its workers, from
   ``getrusage``: CPU time hardly changes when other work shares the machine, wall time
   does), hence **CPU seconds per task**, split by codec family from ``rows.csv``
   (encode + decode seconds per row);
2. for the learned CNN codecs of the default run, the share of encode + decode spent in
   the analysis and synthesis transforms (``g_a``, ``g_s``, what a GPU accelerates) rather
   than in entropy coding, padding and conversion (what stays on the CPU).

Projected (printed with the formula): COCO 2017 val has 5 000 images, at most 640 px on a
side (``--coco-megapixels``, default 0.28 MP on average: an assumption, pass your copy's
mean), so the comparison is ``5 000 × tasks per image`` tasks, each costing the measured
CPU seconds per task scaled by pixels (``× coco MP / sample MP``). On ``n`` nodes of ``c``
cores::

    T_cpu(n) = tasks × s_task / (n · c · e) + t_start

with ``e`` the two-node Ray efficiency (``--efficiency``, from ``benchmarks/executors.py``)
and ``t_start`` the cluster start-up and driver overhead (``--startup-s``). With one GPU
per node, the learned tasks' transform share is taken off their CPU seconds (a GPU's
transform time is not measured here and counted as zero: the GPU rows are lower bounds).
Cost: node-hours × the prices given (``--cpu-node-price``, ``--gpu-node-price``, in any
currency per node-hour: assumptions to replace with yours, not measurements).

Usage: ``python benchmarks/coco_projection.py [--workers 2] [--cores-per-node 16]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

COCO_IMAGES = 5000
NODES = (1, 8, 64)


def measured_run(out: Path, workers: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "codecbench", "run", "-j", str(workers),
                             "--out", str(out), "--no-progress"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"the default run failed:\n{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record = json.loads((out / "run.json").read_text())
    seconds_by_family: dict[str, float] = defaultdict(float)
    tasks_by_family: dict[str, int] = defaultdict(int)
    with (out / "rows.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            seconds_by_family[row["family"]] += float(row["encode_s"] or 0) + float(
                row["decode_s"] or 0)
            tasks_by_family[row["family"]] += 1
    return {"tasks": int(record["rows"]), "images": int(record["dataset"]["n_images"]),
            "wall_s": wall, "cpu_s": cpu, "seconds_by_family": dict(seconds_by_family),
            "tasks_by_family": dict(tasks_by_family)}


def sample_megapixels() -> float:
    from codecbench.datasets.builtin import sample_dataset

    dataset = sample_dataset()
    shapes = [dataset.load(image_id).shape for image_id in dataset.image_ids()]
    return sum(h * w for h, w, _ in shapes) / len(shapes) / 1e6


def transform_share() -> float:
    """Share of ``torch/bmshj2018-hyperprior``'s encode + decode spent in ``g_a``/``g_s``."""
    import torch

    from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec
    from codecbench.codecs.learned.models import LEARNED_MODELS
    from codecbench.datasets.builtin import sample_dataset

    codec = TorchLearnedCodec(LEARNED_MODELS["bmshj2018-hyperprior"])
    dataset = sample_dataset()
    images = [dataset.load(image_id) for image_id in dataset.image_ids()]
    model, _ = codec._model(3)
    spent = {"transforms": 0.0}

    def timing(module):
        def pre(*_):
            spent["start"] = time.perf_counter()

        def post(*_):
            spent["transforms"] += time.perf_counter() - spent["start"]

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)

    timing(model.g_a)
    timing(model.g_s)
    torch.set_num_threads(1)
    start = time.perf_counter()
    for image in images:
        codec.decode(bytes(codec.encode(image, 3)))
    return spent["transforms"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores-per-node", type=int, default=16)
    parser.add_argument("--efficiency", type=float, default=0.9)
    parser.add_argument("--startup-s", type=float, default=60.0)
    parser.add_argument("--cpu-node-price", type=float, default=0.80)
    parser.add_argument("--gpu-node-price", type=float, default=3.00)
    parser.add_argument("--coco-megapixels", type=float, default=0.28)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = measured_run(Path(tmp) / "run", args.workers)
    share = transform_share()
    scale = args.coco_megapixels / sample_megapixels()
    per_task = run["cpu_s"] / run["tasks"] * scale
    tasks_per_image = run["tasks"] / run["images"]
    coco_tasks = COCO_IMAGES * tasks_per_image
    measured_seconds = sum(run["seconds_by_family"].values())
    learned = run["seconds_by_family"].get("cnn", 0.0) / measured_seconds
    gpu_per_task = per_task * (1 - learned * share)
    print(f"default run: {run['tasks']} tasks on {run['images']} photos, {run['wall_s']:.0f} s "
          f"wall, {run['cpu_s']:.0f} CPU s with -j {args.workers}: "
          f"{run['cpu_s'] / run['tasks']:.3f} CPU s per task, {per_task:.3f} at COCO's size "
          f"(× {scale:.2f}); learned CNN codecs {100 * learned:.0f} % of the codec time, of which "
          f"{100 * share:.0f} % in the transforms")
    print(f"COCO val: {COCO_IMAGES} images × {tasks_per_image:.0f} tasks = {coco_tasks:,.0f} "
          f"tasks = {coco_tasks * per_task / 3600:,.0f} CPU hours")
    print(f"\n| nodes | cores | GPUs | projected time | node-hours | cost at "
          f"{args.cpu_node_price:g} / {args.gpu_node_price:g} per node-hour |")
    print("|---|---|---|---|---|---|")
    for gpus in (0, 1):
        seconds_per_task = per_task if gpus == 0 else gpu_per_task
        price = args.cpu_node_price if gpus == 0 else args.gpu_node_price
        for nodes in NODES:
            cores = nodes * args.cores_per_node
            seconds = coco_tasks * seconds_per_task / (cores * args.efficiency) + args.startup_s
            node_hours = nodes * seconds / 3600
            bound = "≥ " if gpus else ""
            print(f"| {nodes} | {cores} | {nodes * gpus} | {bound}{seconds / 3600:.2f} h "
                  f"| {node_hours:.1f} | {node_hours * price:.2f} |")


if __name__ == "__main__":
    main()
