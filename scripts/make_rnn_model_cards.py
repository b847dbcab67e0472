"""Write the model card of every shipped recurrent model (``weights/<slug>.md``).

Sources, both committed: ``weights/<slug>.training.json`` (what ``codecbench train``
recorded) and a fresh ``codecbench run`` of the shipped weights on the bundled ``sample``
set next to JPEG and the CNN models (real bpp of the whole file, the code budget
``0.125·k`` bpp before entropy coding, the context model's estimate, PSNR, MS-SSIM,
times), plus BD-rates against JPEG and Ballé 2017 on the same images.

Usage::

    python scripts/make_rnn_model_cards.py [--run-dir DIR]   # DIR: reuse/resume that run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from make_model_cards import METRICS, bd_text, evaluate
from shipped_weights import SHIPPED_WEIGHTS

from codecbench.codecs.learned.complexity import markdown_lines
from codecbench.codecs.learned.models import RECURRENT_MODELS

REFERENCES = ("jpeg", "torch/bls2017-factorized", "torch/bmshj2018-hyperprior")
ITERATIONS = (1, 2, 4, 8, 12, 16)
"""The rate points evaluated (every one costs the recurrent steps of its iterations)."""


def evaluate_recurrent(run_dir: Path, slugs) -> pd.DataFrame:
    """``codecbench run`` of the recurrent codecs at :data:`ITERATIONS` on the sample set."""
    command = [sys.executable, "-m", "codecbench", "run", "--dataset", "sample", "--out",
               str(run_dir), "--no-progress", "-j", "2"]
    for slug in slugs:
        command += ["--codec", f"torch/{slug}"]
    for metric in METRICS:
        command += ["--metric", metric]
    for k in ITERATIONS:
        command += ["--quality", str(k)]
    environment = {k: v for k, v in os.environ.items() if k != "CODECBENCH_TORCH_WEIGHTS"}
    subprocess.run(command, check=True, env=environment)
    return pd.read_csv(run_dir / "leaderboard.csv")


def jpeg_psnr_at(jpeg, bpp: float) -> str:
    """JPEG's mean PSNR at ``bpp`` (linear between its rate points; – outside them)."""
    if not jpeg["bpp"].min() <= bpp <= jpeg["bpp"].max():
        return "–"
    return f"{np.interp(bpp, jpeg['bpp'], jpeg['psnr']):.2f}"


def card(slug: str, board) -> str:
    entry = RECURRENT_MODELS[slug]
    record = json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())
    stages = [*record.get("previous", []), record]
    size = (SHIPPED_WEIGHTS / f"{slug}.safetensors").stat().st_size
    codec = f"torch/{slug}"
    rows = board[board["codec"] == codec].sort_values("bpp")
    coding = ("range coded (CompressAI rANS) with the learned binary context model"
              if entry.entropy_coded else "stored raw (no entropy coding, as in the paper)")
    training = []
    for index, stage in enumerate(stages, 1):
        config = stage["config"]
        start = (f"from `{stage['parent'].get('model') or stage['parent'].get('codec')}` "
                 f"weights ({stage['parent'].get('steps')} steps)"
                 if stage.get("parent") else "from scratch")
        training.append(
            f"{index}. {stage['steps']} steps {start}, batch {config['batch_size']} of "
            f"{config['patch_size']}×{config['patch_size']} crops, Adam lr "
            f"{config['learning_rate']:g} (×{config['lr_gamma']} after "
            f"{', '.join(f'{m:.0%}' for m in config['lr_milestones'])} of the steps), "
            f"{stage['train_seconds'] / 60:.0f} min on {stage['hardware']}.")
    lines = [
        f"# Model card: torch/{slug}",
        "",
        f"**Architecture.** {entry.paper}. Convolutional {entry.cell.upper()} encoder and "
        f"decoder ({entry.reconstruction} reconstruction"
        f"{', 32×32 patches coded independently' if entry.patch else ', full image'}"
        f"{f', hidden-state priming k = {entry.priming}' if entry.priming else ''}), "
        f"encoder widths {record['encoder_widths']}, decoder widths "
        f"{record['decoder_widths']} (the papers: 64/256/512/512 and 512/512/256/128), "
        f"{record['parameters']:,} parameters; {entry.code_channels} bits per 16×16 block "
        f"and iteration, {entry.iterations} iterations = rate points 1–{entry.iterations}. "
        f"Codes {coding}. Weights: safetensors, convolution kernels float16, "
        f"{size / 1e6:.1f} MB for every rate point.",
        "",
        "**Data.** 41 photographs (1024 px wide wallpapers, GPL / CC-BY(-SA); not "
        "redistributed with codecbench), random crops with horizontal flips.",
        "",
        f"**Training** (`codecbench train {codec}`), loss `{entry.loss}` over all "
        f"{entry.iterations} unrolled iterations, stochastic binariser, gradient-norm "
        f"clipping 1.0, torch {record['versions']['torch']}:",
        *training,
        "",
        "These are minutes of CPU training of a small network (the papers train for days on "
        "GPUs): the numbers below are what these weights do, far below the papers' curves.",
        "",
        *markdown_lines(slug, (1, 4, 16)),
        f"**Evaluation** on the bundled `sample` set (6 photos, 451–600 px), `codecbench run`, "
        f"CPU ({platform.machine()}, {os.cpu_count()} cores). BD-rate (PSNR, PCHIP) against "
        f"JPEG: **{bd_text(board, 'jpeg', codec)[0]}**; against torch/bls2017-factorized: "
        f"**{bd_text(board, 'torch/bls2017-factorized', codec)[0]}**.",
        "",
        "| iterations | code budget bpp | bpp (file) | bpp-estimate | saving vs budget | "
        "PSNR dB | JPEG PSNR dB at this bpp | MS-SSIM | encode s | decode s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    jpeg = board[board["codec"] == "jpeg"].sort_values("bpp")
    for _, row in rows.iterrows():
        k = int(row["quality"])
        budget = entry.bound_bpp(k)
        lines.append(
            f"| {k} | {budget:.3f} | {row['bpp']:.4f} | {row['bpp-estimate']:.4f} | "
            f"{(1 - row['bpp'] / budget) * 100:+.1f} % | {row['psnr']:.2f} | "
            f"{jpeg_psnr_at(jpeg, row['bpp'])} | "
            f"{row['ms-ssim']:.4f} | {row['encode_s']:.3f} | {row['decode_s']:.3f} |")
    lines += [
        "",
        "`code budget` is 0.125·k bpp, the binary codes before entropy coding; `bpp (file)` "
        "is the whole file (container header, one string per iteration, padding to 16 px "
        "included), averaged over the photos; `saving` is 1 − file/budget (negative where "
        "header and padding outweigh the coding gain). Weights id "
        f"`{record['weights_id']}`; full training record: `{slug}.training.json`.",
        "",
    ]
    return "\n".join(lines)


def measured_sections(path: Path) -> str:
    """The ``## …`` sections of the card already at ``path`` (measurements of other codecs
    on the same weights, e.g. the spatially adaptive codec on the priming weights), which
    regenerating the card keeps."""
    text = path.read_text() if path.is_file() else ""
    start = text.find("\n## ")
    return "" if start < 0 else "\n" + text[start:].lstrip("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("codecbench-results/rnn-cards"))
    args = parser.parse_args()
    slugs = [slug for slug in RECURRENT_MODELS
             if (SHIPPED_WEIGHTS / f"{slug}.training.json").exists()]
    references = evaluate(args.run_dir / "references",
                          ["bls2017-factorized", "bmshj2018-hyperprior"])
    board = pd.concat([references, evaluate_recurrent(args.run_dir / "recurrent", slugs)],
                      ignore_index=True)
    print("| codec | BD-rate vs JPEG | vs bls2017 | vs hyperprior | bpp at 16 it. | "
          "PSNR at 1 / 4 / 16 it. |")
    print("|---|---|---|---|---|---|")
    for slug in slugs:
        path = SHIPPED_WEIGHTS / f"{slug}.md"
        path.write_text(card(slug, board) + measured_sections(path))
        codec = f"torch/{slug}"
        rows = board[board["codec"] == codec]
        rows.index = rows["quality"].astype(int)
        texts = [bd_text(board, reference, codec)[0] for reference in REFERENCES]
        print(f"| `{codec}` | {' | '.join(texts)} | {rows.loc[16, 'bpp']:.3f} | "
              f"{rows.loc[1, 'psnr']:.2f} / {rows.loc[4, 'psnr']:.2f} / "
              f"{rows.loc[16, 'psnr']:.2f} |")


if __name__ == "__main__":
    main()
