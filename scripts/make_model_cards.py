"""Write the model card of every shipped torch model trained per rate point
(``weights/<model>.md``; ``make_variable_rate_cards.py`` writes those of one network for
every rate point).

Each card is built from two sources, both committed: ``weights/<model>.training.json``
(what ``codecbench train`` recorded: data, λ, steps, hardware, time, lineage) and a fresh
evaluation of the shipped weights on the bundled ``sample`` set with ``codecbench run``
(real bpp, the entropy model's ``bpp-estimate``, PSNR, MS-SSIM, times on this machine),
plus the BD-rate against JPEG on the same images.

Usage::

    python scripts/make_model_cards.py [--run-dir DIR]   # DIR: reuse/resume that run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd
from shipped_weights import SHIPPED_WEIGHTS

from codecbench.codecs.learned.complexity import markdown_lines
from codecbench.codecs.learned.models import LEARNED_MODELS
from codecbench.datasets.split import HELD_OUT_MODULUS
from codecbench.report.rd import bd_rate

METRICS = ("bpp", "bpp-estimate", "psnr", "ms-ssim")
RECIPE = "scripts/train_shipped_weights.py"


def evaluate(run_dir: Path, slugs, dataset=("--dataset", "sample"),
             anchors=("jpeg",)) -> pd.DataFrame:
    """The leaderboard of the shipped ``torch/<slug>`` models and the ``anchors`` on
    ``dataset`` (``codecbench run`` options; resumed when ``run_dir`` holds that run)."""
    environment = {k: v for k, v in os.environ.items() if k != "CODECBENCH_TORCH_WEIGHTS"}
    command = [sys.executable, "-m", "codecbench", "run", *dataset, "--out", str(run_dir),
               "--no-progress"]
    for codec in [*anchors, *(f"torch/{slug}" for slug in slugs)]:
        command += ["--codec", codec]
    for metric in METRICS:
        command += ["--metric", metric]
    subprocess.run(command, check=True, env=environment)
    return pd.read_csv(run_dir / "leaderboard.csv")


def training_split_text(images: int) -> str:
    """The cards' sentence on the data of a run trained on the training split."""
    return (f"The training split (`--split train`: {images} of the 41 photographs, 1024 px "
            "wide wallpapers, GPL / CC-BY(-SA); not redistributed with codecbench; held out: "
            "the 7 whose int(SHA-256(file name)[:8 bytes]) mod "
            f"{HELD_OUT_MODULUS} = 0).")


def bd_text(board: pd.DataFrame, reference: str, codec: str) -> tuple[str, float]:
    """``codec``'s BD-rate against ``reference`` (PSNR, PCHIP) on ``board``, as card text
    and as a number (``nan`` when not computable)."""
    anchor = board[board["codec"] == reference].sort_values("bpp")
    rows = board[board["codec"] == codec].sort_values("bpp")
    value, reason = bd_rate(anchor["bpp"], anchor["psnr"], rows["bpp"], rows["psnr"])
    return (f"{value:+.1f} %" if reason == "" else f"not computable ({reason})"), value


def card(slug: str, board: pd.DataFrame) -> tuple[str, float]:
    entry = LEARNED_MODELS[slug]
    records = json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())
    base, points = records["base"], records["points"]
    rows = board[board["codec"] == f"torch/{slug}"].sort_values("bpp")
    bd, value = bd_text(board, "jpeg", f"torch/{slug}")
    sizes = {q: (SHIPPED_WEIGHTS / f"{slug}-q{q}.safetensors").stat().st_size for q in points}
    first = next(iter(points.values()))
    lines = [
        f"# Model card: torch/{slug}",
        "",
        f"**Architecture.** {entry.paper}; CompressAI `{entry.compressai_class}` with "
        f"N = {base['N']}, M = {base['M']} (CompressAI's own models use N = 128–192, "
        f"M = 192–320), prior: {entry.prior}. Weights: safetensors, convolution kernels "
        f"float16, {min(sizes.values()) / 1e6:.1f} MB per rate point.",
        "",
        "**Data.** 41 photographs (1024 px wide wallpapers, GPL / CC-BY(-SA); not "
        "redistributed with codecbench), random 256×256 crops with horizontal flips, "
        f"batch {base['config']['batch_size']}.",
        "",
        f"**Training** (`codecbench train`, recipe `{RECIPE}`), on {base['hardware']}, "
        f"torch {base['versions']['torch']}, CompressAI {base['versions']['compressai']}:",
        f"1. base: quality 3 (λ = {base['lambda']}) from scratch, {base['steps']} steps, "
        f"Adam lr {base['config']['learning_rate']:g} (×{base['config']['lr_gamma']} after "
        f"{', '.join(f'{m:.0%}' for m in base['config']['lr_milestones'])} of the steps), "
        f"{base['train_seconds']:.0f} s;",
        f"2. every rate point fine-tuned from the base with its own λ, Adam lr "
        f"{first['config']['learning_rate']:g}, the runs of all models in parallel on one GPU, "
        f"planned for {records['finetune_planned_steps']} steps (the learning-rate schedule's "
        "milestones are fractions of that); runs that reached the wall-clock limit first were "
        "exported at the step they reached (steps below).",
        "",
        "Loss: λ·255²·MSE + bpp (CompressAI's `RateDistortionLoss`), auxiliary quantile loss "
        "on the entropy bottleneck, gradient-norm clipping 1.0. These are short runs of small "
        "models (minutes, not the days CompressAI trains for): the RD numbers below are what "
        "these weights do, well below the papers' published curves.",
        "",
        *markdown_lines(slug, entry.qualities),
        f"**Evaluation** on the bundled `sample` set (6 photos, 451–600 px), "
        f"`codecbench run`, CPU ({platform.machine()}, {os.cpu_count()} cores). BD-rate "
        f"against JPEG (PSNR, PCHIP, over the common PSNR range): **{bd}**.",
        "",
        "| quality | λ | steps (base + fine-tunes) | fine-tune s | bpp | bpp-estimate | gap | "
        "PSNR dB | MS-SSIM | encode s | decode s | weights id |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for quality, record in sorted(points.items(), key=lambda item: int(item[0])):
        row = rows[rows["quality"].astype(str) == quality].iloc[0]
        gap = (row["bpp"] / row["bpp-estimate"] - 1) * 100
        stages = [*record.get("previous", []), record]
        steps = " + ".join(str(stage["steps"]) for stage in [base, *stages])
        seconds = " + ".join(f"{stage['train_seconds']:.0f}" for stage in stages)
        for stage in stages[1:]:
            notes.append(f"Quality {quality}: a further fine-tune of {stage['steps']} steps "
                         f"(batch {stage['config']['batch_size']}, patch "
                         f"{stage['config']['patch_size']}, lr {stage['config']['learning_rate']:g}) "
                         f"on {stage['hardware']}.")
        lines.append(
            f"| {quality} | {record['lambda']} | {steps} | "
            f"{seconds} | {row['bpp']:.4f} | {row['bpp-estimate']:.4f} | "
            f"{gap:+.1f} % | {row['psnr']:.2f} | {row['ms-ssim']:.4f} | {row['encode_s']:.3f} | "
            f"{row['decode_s']:.3f} | `{record['weights_id']}` |"
        )
    lines += ["", *notes] if notes else []
    lines += [
        "",
        "`gap` is the real file size (container header and rANS overhead included) over the "
        "entropy model's estimate Σ −log2 p(ŷ). Full training records: "
        f"`{slug}.training.json`.",
        "",
    ]
    return "\n".join(lines), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("codecbench-results/model-cards"))
    args = parser.parse_args()
    slugs = [slug for slug in LEARNED_MODELS
             if (SHIPPED_WEIGHTS / f"{slug}.training.json").exists()
             and "base" in json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())]
    board = evaluate(args.run_dir, slugs)
    print("| codec | rate points: bpp / bpp-estimate / PSNR dB | BD-rate vs JPEG (PSNR) | "
          "decode s per photo |")
    print("|---|---|---|---|")
    for slug in slugs:
        text, value = card(slug, board)
        (SHIPPED_WEIGHTS / f"{slug}.md").write_text(text)
        rows = board[board["codec"] == f"torch/{slug}"].sort_values("bpp")
        points = "; ".join(f"{r['bpp']:.3f} / {r['bpp-estimate']:.3f} / {r['psnr']:.2f}"
                           for _, r in rows.iterrows())
        print(f"| `torch/{slug}` | {points} | {value:+.1f} % | {rows['decode_s'].mean():.2f} |")


if __name__ == "__main__":
    main()
