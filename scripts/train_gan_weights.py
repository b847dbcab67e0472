"""The recipe that trained the shipped GAN-family weights (HiFiC, HiFiC-OMGD, GC).

Every run in parallel on one device, one phase:

* ``torch/hific`` at rate points 1–3, each initialised from the shipped
  ``torch/mbt2018-mean`` weights of the same rate point (the same architecture trained
  for rate–distortion only: HiFiC's first stage), so ``--warmup`` is short;
* ``torch/hific-omgd`` at rate point 2: the teacher initialised likewise and trained as
  HiFiC, the student decoder distilled online from scratch;
* ``torch/agustsson2019-gc`` at rate points 1–3 (C = 2, 4, 8), from scratch.

As :mod:`train_shipped_weights`, step counts are fixed (a short parallel probe measures
the steps per second each run gets; steps = rate × budget) and runs stopped by the
safety ``--time-limit`` are exported at the step they reached. Packs
``<model>.tar`` (weights, ``training.json``, ``curves.csv`` per run) into ``--out``.

Usage (what the model cards record)::

    python scripts/train_gan_weights.py --data TRAIN_PHOTOS --out OUT --device cuda \\
        --init-weights FOLDER_WITH_mbt2018-mean-qN --seconds 330
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train_shipped_weights import run_parallel, steps_per_second  # noqa: E402

JOBS = (("hific", 1), ("hific", 2), ("hific", 3), ("hific-omgd", 2),
        ("agustsson2019-gc", 1), ("agustsson2019-gc", 2), ("agustsson2019-gc", 3))
LEARNING_RATES = {"hific": 1e-4, "hific-omgd": 1e-4, "agustsson2019-gc": 2e-4}


def command(model, quality, out, args, steps, time_limit_s=None, log_every=50):
    options = ["--warmup", str(args.hific_warmup)] if model.startswith("hific") else []
    if model.startswith("hific") and not args.channels:
        options += ["--init-from", str(args.init_weights / f"mbt2018-mean-q{quality}.safetensors")]
    if time_limit_s:
        options += ["--time-limit", str(time_limit_s / 60)]
    if args.channels and model == "agustsson2019-gc":
        options += ["--channels", "4", "1"]
    elif args.channels:
        options += ["--channels", "8", "12"]
    return [sys.executable, "-m", "codecbench", "train", f"torch/{model}", "--data",
            str(args.data), "--quality", str(quality), "--out", str(out), "--steps", str(steps),
            "--batch-size", str(args.batch_size), "--patch-size", str(args.patch_size),
            "--lr", str(LEARNING_RATES[model]), "--device", args.device, "--seed", str(args.seed),
            "--checkpoint-every", "100000", "--log-every", str(log_every), "--half-kernels",
            "--no-progress", *options]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--init-weights", type=Path, required=True,
                        help="folder with mbt2018-mean-q1..3.safetensors")
    parser.add_argument("--work", type=Path, default=Path("codecbench-training/gan"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=330)
    parser.add_argument("--probe-seconds", type=float, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--hific-warmup", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels", action="store_true", help="tiny models (smoke test)")
    args = parser.parse_args()

    runs = [(model, quality, args.work / f"{model}-q{quality}") for model, quality in JOBS]
    probes = [args.work / "probe" / f"{model}-q{quality}" for model, quality in JOBS]
    run_parallel([command(model, quality, probe, args, 1_000_000, args.probe_seconds, 1)
                  for (model, quality, _), probe in zip(runs, probes, strict=True)],
                 args.work / "logs", "probe")
    rates = {job: steps_per_second(probe) for job, probe in zip(JOBS, probes, strict=True)}
    steps = {job: max(2, int(rate * args.seconds)) for job, rate in rates.items()}
    print("steps:", {f"{m}-q{q}": s for (m, q), s in steps.items()}, flush=True)
    run_parallel([command(model, quality, out, args, steps[(model, quality)],
                          args.seconds * 1.25)
                  for model, quality, out in runs], args.work / "logs", "train")
    import torch

    stopped = []
    for model, quality, out in runs:
        if not (out / f"{model}-q{quality}.safetensors").exists():
            step = torch.load(out / "checkpoint.pt", map_location="cpu",
                              weights_only=True)["step"]
            print(f"{model} q{quality} stopped by the time limit at step {step}", flush=True)
            stopped.append(command(model, quality, out, args, step))
    if stopped:
        run_parallel(stopped, args.work / "logs", "export")

    args.out.mkdir(parents=True, exist_ok=True)
    for model in dict.fromkeys(model for model, _ in JOBS):
        with tarfile.open(args.out / f"{model}.tar", "w") as tar:
            for run_model, quality, out in runs:
                if run_model != model:
                    continue
                for path in sorted(out.glob("*.safetensors")):
                    tar.add(path, f"{model}/{path.name}")
                tar.add(out / "training.json", f"{model}/q{quality}/training.json")
                tar.add(out / "curves.csv", f"{model}/q{quality}/curves.csv")


if __name__ == "__main__":
    main()
