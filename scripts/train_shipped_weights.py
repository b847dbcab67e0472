"""The recipe that trained the weights shipped in ``models/src/codecbench_models/weights``.

Two phases of ``codecbench train``, every run of a phase in parallel on one device:

1. **base**: each architecture is trained from scratch at the middle rate point
   (quality 3) for a fixed wall-clock budget;
2. **rate points**: each quality 1–5 is fine-tuned from its architecture's base weights
   with its own λ (``--init-from``), the cheap way to get a ladder of rate points.

Step counts are fixed, not time limits, so each run's learning-rate schedule is the
configured one: a short probe (all runs of the phase in parallel, ``--time-limit``)
measures the steps per second each run gets, and the phase's step count is
``probe rate × budget``. Results are packed as one ``<model>.tar`` per architecture
(weights, ``training.json``, ``curves.csv`` of both phases) into ``--out``.

Usage (what the model cards record)::

    python scripts/train_shipped_weights.py --data TRAIN_PHOTOS --out OUT --device cuda \\
        --base-seconds 200 --finetune-seconds 240

``--variable-rate`` trains instead one network per architecture for every rate point
(gain units; ``codecbench train --variable-rate``), all architectures in parallel, for the
two phases' time together (or ``--steps`` each). The shipped variable-rate networks were
trained on a 2-core CPU with::

    OMP_NUM_THREADS=1 python scripts/train_shipped_weights.py --variable-rate --device cpu \\
        --data TRAIN_PHOTOS --out OUT --models bmshj2018-hyperprior,mbt2018-mean \\
        --steps 7000 --batch-size 8 --patch-size 128

(and ``--models bls2017-factorized --steps 5000``, ``--models bao2022-attention --steps 5000``
with two threads, and ``--models mbt2018 --steps 7000`` alone); their model cards record
each run.
Every run trains on the training split (``--split train``: the held-out photos of
:mod:`codecbench.datasets.split` stay unseen) unless ``--split all``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tarfile
import time
from pathlib import Path

QUALITIES = (1, 2, 3, 4, 5)
BASE_QUALITY = 3


def train_command(model, quality, out, args, steps, lr, extra=(), log_every=50):
    """``codecbench train`` of one rate point (``quality``), or of one variable-rate
    network for every rate point (``quality`` ``None``)."""
    rate = ["--quality", str(quality)] if quality is not None else ["--variable-rate"]
    return [
        sys.executable, "-m", "codecbench", "train", f"torch/{model}", "--data", str(args.data),
        "--split", args.split, *rate, "--out", str(out), "--steps", str(steps),
        "--batch-size", str(args.batch_size), "--patch-size", str(args.patch_size),
        "--lr", str(lr), "--device", args.device, "--seed", str(args.seed),
        "--checkpoint-every", "100000", "--log-every", str(log_every), "--half-kernels",
        "--no-progress", *args.channel_options, *extra,
    ]


def run_parallel(commands, logs_dir: Path, tag: str) -> None:
    logs_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    for index, command in enumerate(commands):
        log = (logs_dir / f"{tag}-{index}.log").open("w")
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
    failed = []
    for (process, log), command in zip(processes, commands, strict=True):
        if process.wait() != 0:
            failed.append(" ".join(command))
        log.close()
    if failed:
        for path in sorted(logs_dir.glob(f"{tag}-*.log")):
            print(path.name, path.read_text()[-2000:], sep="\n")
        raise SystemExit(f"{len(failed)} training runs failed, first: {failed[0]}")


def steps_per_second(run_dir: Path) -> float:
    with (run_dir / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise SystemExit(f"probe in {run_dir} logged no steps: raise --probe-seconds")
    first = rows[0] if len(rows) > 1 else {"step": 0, "elapsed_s": 0.0}
    last = rows[-1]
    return (int(last["step"]) - int(first["step"])) / (
        float(last["elapsed_s"]) - float(first["elapsed_s"]))


def phase(jobs, args, seconds, lr, tag, extra_of=lambda job: (), steps=None):
    """Probe, then run ``jobs`` (model, quality, out) for about ``seconds`` each.

    With ``steps`` given, no probe: every run trains that many steps.
    """
    if steps is None:
        steps = probe_steps(jobs, args, seconds, lr, tag, extra_of)
    start = time.monotonic()
    limit = ["--time-limit", str(args.time_limit / 60)] if args.time_limit else []
    run_parallel([train_command(model, quality, out, args, steps, lr,
                                [*extra_of((model, quality, out)), *limit])
                  for model, quality, out in jobs], args.work / "logs", tag)
    print(f"{tag}: done in {time.monotonic() - start:.0f} s", flush=True)
    export_stopped_runs(jobs, args, lr, tag, extra_of)


def export_stopped_runs(jobs, args, lr, tag, extra_of) -> None:
    """Runs stopped by the time limit: export them at the step they reached.

    ``--steps`` may change on resume; set to the checkpoint's step, the run is complete
    and ``codecbench train`` exports its weights without training further.
    """
    import torch

    commands = []
    for model, quality, out in jobs:
        if (out / weights_name(model, quality)).exists():
            continue
        step = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["step"]
        print(f"{tag}: {model} {quality or 'variable-rate'} stopped by the time limit at step "
              f"{step}", flush=True)
        commands.append(train_command(model, quality, out, args, step, lr,
                                      extra_of((model, quality, out))))
    if commands:
        run_parallel(commands, args.work / "logs", f"export-{tag}")


def weights_name(model: str, quality: int | None) -> str:
    return f"{model}-q{quality}.safetensors" if quality is not None else f"{model}.safetensors"


def probe_steps(jobs, args, seconds, lr, tag, extra_of) -> int:
    """Steps that fit in ``seconds``, from a short parallel run of all ``jobs``."""
    probe_dirs = [args.work / "probe" / f"{tag}-{model}-q{quality}" for model, quality, _ in jobs]
    run_parallel([train_command(model, quality, probe, args, 1_000_000, lr,
                                [*extra_of((model, quality, out)), "--time-limit",
                                 str(args.probe_seconds / 60)], log_every=5)
                  for (model, quality, out), probe in zip(jobs, probe_dirs, strict=True)],
                 args.work / "logs", f"probe-{tag}")
    rates = [steps_per_second(probe) for probe in probe_dirs]
    steps = int(min(rates) * seconds)
    print(f"{tag}: probe rates {min(rates):.1f}-{max(rates):.1f} steps/s -> {steps} steps",
          flush=True)
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("codecbench-training/recipe"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default="bls2017-factorized,bmshj2018-hyperprior,"
                                           "mbt2018-mean,mbt2018")
    parser.add_argument("--base-seconds", type=float, default=200)
    parser.add_argument("--finetune-seconds", type=float, default=240)
    parser.add_argument("--probe-seconds", type=float, default=20)
    parser.add_argument("--base-lr", type=float, default=3e-4)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float,
                        help="seconds after which every run of a phase stops and is exported")
    parser.add_argument("--base-weights", type=Path,
                        help="folder with <model>-q3.safetensors to fine-tune from (skips the base phase)")
    parser.add_argument("--skip-base", action="store_true",
                        help="reuse the base weights already in --work")
    parser.add_argument("--finetune-steps", type=int,
                        help="steps of each rate point (no probe); default: from a probe")
    parser.add_argument("--steps", type=int,
                        help="--variable-rate: steps of each network (no probe); default: "
                             "from a probe")
    parser.add_argument("--channels", nargs=2, type=int, metavar=("N", "M"),
                        help="override the model table (smoke tests of this recipe)")
    parser.add_argument("--split", choices=("all", "train"), default="train",
                        help="train on the training split (the held-out photos stay unseen)")
    parser.add_argument("--variable-rate", action="store_true",
                        help="one network per architecture for every rate point (gain units), "
                             "trained for --base-seconds + --finetune-seconds, instead of the "
                             "two phases")
    args = parser.parse_args()
    args.channel_options = ["--channels", *map(str, args.channels)] if args.channels else []
    models = args.models.split(",")
    if args.variable_rate:
        jobs = [(model, None, args.work / "variable-rate" / model) for model in models]
        phase(jobs, args, args.base_seconds + args.finetune_seconds, args.base_lr,
              "variable-rate", steps=args.steps)
        args.out.mkdir(parents=True, exist_ok=True)
        for model, _, run in jobs:
            with tarfile.open(args.out / f"{model}.tar", "w") as tar:
                tar.add(run / weights_name(model, None), f"{model}/{weights_name(model, None)}")
                tar.add(run / "training.json", f"{model}/training.json")
                tar.add(run / "curves.csv", f"{model}/curves.csv")
        return

    base_jobs = [(model, BASE_QUALITY, args.work / "base" / model) for model in models]
    if not (args.skip_base or args.base_weights):
        phase(base_jobs, args, args.base_seconds, args.base_lr, "base")

    def base_weights(job):
        model = job[0]
        folder = args.base_weights or args.work / "base" / model
        return ["--init-from", str(folder / f"{model}-q{BASE_QUALITY}.safetensors")]

    point_jobs = [(model, quality, args.work / "points" / f"{model}-q{quality}")
                  for model in models for quality in QUALITIES]
    phase(point_jobs, args, args.finetune_seconds, args.finetune_lr, "points", base_weights,
          steps=args.finetune_steps)

    args.out.mkdir(parents=True, exist_ok=True)
    for model in models:
        with tarfile.open(args.out / f"{model}.tar", "w") as tar:
            base = args.work / "base" / model
            if base.exists():
                tar.add(base / "training.json", f"{model}/base/training.json")
                tar.add(base / "curves.csv", f"{model}/base/curves.csv")
            for quality in QUALITIES:
                run = args.work / "points" / f"{model}-q{quality}"
                name = f"{model}-q{quality}.safetensors"
                tar.add(run / name, f"{model}/{name}")
                tar.add(run / "training.json", f"{model}/q{quality}/training.json")
                tar.add(run / "curves.csv", f"{model}/q{quality}/curves.csv")


if __name__ == "__main__":
    main()
