"""Write the model cards of the shipped GAN-family models (``weights/<slug>.md``).

Sources, all committed: ``weights/<slug>.training.json`` (what ``codecbench train``
recorded, per rate point), ``codecs/learned/model_complexity.json`` (measured parameters and
MACs) and a fresh ``codecbench run`` on the bundled ``sample`` set of the GAN codecs,
``torch/mbt2018-mean`` (HiFiC's initialisation, the CNN reference at equal rate),
JPEG, and — for OMGD — the online teacher (``hific-omgd-teacher-q2.safetensors`` run as
``torch/hific`` quality 2). LPIPS/DISTS columns are filled when their pretrained weights
are present on the machine that writes the cards, and say so otherwise.

Usage::

    python scripts/make_gan_model_cards.py [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from make_rnn_model_cards import jpeg_psnr_at  # noqa: E402
from shipped_weights import SHIPPED_WEIGHTS  # noqa: E402

from codecbench.codecs.learned.complexity import complexity, markdown_lines  # noqa: E402
from codecbench.codecs.learned.models import (  # noqa: E402
    GENERATIVE_MODELS,
    LEARNED_MODELS,
    WAVEONE_MODELS,
)

SLUGS = ("hific", "hific-omgd", "agustsson2019-gc", "rippel2017-waveone")
BASE_METRICS = ("bpp", "bpp-estimate", "psnr", "ms-ssim")
PERCEPTUAL = ("lpips-alex", "dists")
RECIPE = "scripts/train_gan_weights.py"


def available_perceptual() -> list[str]:
    listing = json.loads(subprocess.run(
        [sys.executable, "-m", "codecbench", "list", "metrics", "--json"], check=True,
        capture_output=True, text=True).stdout)
    return [r["name"] for r in listing if r["name"] in PERCEPTUAL and r["available"]]


def run(out: Path, codecs, metrics, env=None, qualities=()) -> pd.DataFrame:
    command = [sys.executable, "-m", "codecbench", "run", "--dataset", "sample", "--out",
               str(out), "--no-progress"]
    for codec in codecs:
        command += ["--codec", codec]
    for metric in metrics:
        command += ["--metric", metric]
    for quality in qualities:
        command += ["--quality", str(quality)]
    environment = {k: v for k, v in os.environ.items() if k != "CODECBENCH_TORCH_WEIGHTS"}
    subprocess.run(command, check=True, env={**environment, **(env or {})})
    return pd.read_csv(out / "leaderboard.csv")


def value_at(curve: pd.DataFrame, bpp: float, metric: str = "psnr") -> str:
    curve = curve.sort_values("bpp")
    if curve.empty or not curve["bpp"].min() <= bpp <= curve["bpp"].max():
        return "–"
    return f"{np.interp(bpp, curve['bpp'], curve[metric]):.2f}"


def architecture(slug: str) -> str:
    if slug in WAVEONE_MODELS:
        entry = WAVEONE_MODELS[slug]
        return (f"{entry.paper}. Pyramidal analysis at {entry.scales} scales with interscale "
                f"alignment (width {entry.width}), {entry.code_channels} code channels at 1/8 "
                f"resolution quantised to {entry.bitplanes} bits and split into bitplanes "
                "(rate point = planes kept, progressive files), context-coded with CompressAI's "
                "rANS, synthesis by three ×2 pixel-shuffle upsamplings. One network for "
                "every rate point (trained on a random plane count per step).")
    if slug in GENERATIVE_MODELS:
        entry = GENERATIVE_MODELS[slug]
        return (f"{entry.paper}. Encoder widths {', '.join(map(str, entry.widths))} "
                f"(the paper: 60 … 960), {entry.residual_blocks} residual blocks (the paper: "
                f"9), bottleneck of C channels at 1/16 resolution quantised to L = "
                f"{entry.centres} centres; rate points C = "
                f"{', '.join(map(str, entry.channels))}. Symbols range coded with a "
                "per-channel table counted on 48 training crops (CompressAI rANS).")
    entry = LEARNED_MODELS[slug]
    text = (f"{entry.paper}. CompressAI `MeanScaleHyperprior`, N = {entry.N}, M = {entry.M} "
            "(the mean-scale hyperprior of `torch/mbt2018-mean`; HiFiC's own networks are "
            "wider, with residual generator blocks) and a latent-conditioned "
            "discriminator (spectral norm, widths "
            f"{', '.join(map(str, entry.adversarial.widths))}).")
    if entry.decoder_N:
        text += (f" The codec's decoder is the OMGD student: the same synthesis at width "
                 f"{entry.decoder_N} instead of {entry.N}, distilled online from the "
                 "teacher's output (L1 + 1 − MS-SSIM) and its three inverse-GDN feature "
                 "maps (1×1 adapters, dropped at export).")
    return text


def losses(slug: str, record: dict) -> str:
    adversarial = record["adversarial"]
    perceptual = {"1-ms-ssim": "1 − MS-SSIM (no LPIPS backbone weights on the training "
                               "machine)", "lpips-alex": "LPIPS (AlexNet)"}[record["perceptual"]]
    rate = ("α_t·R(y) + " if slug in WAVEONE_MODELS
            else "" if slug in GENERATIVE_MODELS else "bpp + ")
    return (f"L_G = {rate}λ·(255²·MSE + {adversarial['perceptual_weight']:g}·P) + "
            f"{adversarial['weight']:g}·L_adv"
            + (f" + {adversarial['feature_matching']:g}·FM" if adversarial["feature_matching"]
               else "")
            + f", {adversarial['loss']} GAN loss, {adversarial['discriminator']} discriminator "
            f"(Adam β₁ = 0.5), P = {perceptual}; warm-up without the GAN terms: "
            f"{record['config'].get('warmup', adversarial['warmup'])} of the steps.")


def card(slug: str, board: pd.DataFrame, teacher: pd.DataFrame | None,
         perceptual: list[str]) -> str:
    records = json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())
    runs = records.get("runs") or {f"q1–{records.get('bitplanes', '')}": records}
    first = next(iter(runs.values()))
    rows = board[board["codec"] == f"torch/{slug}"].sort_values("bpp")
    jpeg = board[board["codec"] == "jpeg"].sort_values("bpp")
    cnn = board[board["codec"] == "torch/mbt2018-mean"]
    files = sorted(SHIPPED_WEIGHTS.glob(f"{slug}-q*.safetensors")) or [
        SHIPPED_WEIGHTS / f"{slug}.safetensors"]
    size = max(path.stat().st_size for path in files if "teacher" not in path.name) / 1e6
    lines = [
        f"# Model card: torch/{slug}", "",
        f"**Architecture.** {architecture(slug)} Weights: safetensors, convolution kernels "
        f"float16, {size:.1f} MB per rate point.", "",
        "**Data.** 41 photographs (1024 px wide wallpapers, GPL / CC-BY(-SA); not "
        f"redistributed with codecbench), random {first['config']['patch_size']}×"
        f"{first['config']['patch_size']} crops with horizontal flips, batch "
        f"{first['config']['batch_size']}.", "",
        ("**Training** (`codecbench train`: " if slug in WAVEONE_MODELS
         else f"**Training** (`codecbench train`, recipe `{RECIPE}`: ")
        + f"`{records['recipe']}`), on "
        f"{first['hardware']}, torch {first['versions']['torch']}"
        + ("." if slug in WAVEONE_MODELS else "; all seven HiFiC/GC runs in parallel on one "
           "GPU for a fixed wall-clock budget, stopped runs exported at the step reached."),
        "",
        f"Loss: {losses(slug, first)}",
    ]
    if first.get("parent"):
        lines += ["", f"Initialised from `{Path(first['parent']['weights']).name}` (the shipped "
                  "rate–distortion model of the same rate point: HiFiC's first stage)."]
    lines += ["", "| quality | λ | steps | train s | final D accuracy | weights id |",
              "|---|---|---|---|---|---|"]
    for name, record in runs.items():
        accuracy = record["final_interval"].get("d_accuracy", "")
        lambda_text = f"{record['lambda']:g}"
        if "final_alpha" in record:
            lambda_text += f" (final α = {record['final_alpha']:.3g})"
        lines.append(f"| {name[1:]} | {lambda_text} | {record['steps']} | "
                     f"{record['train_seconds']:.0f} | "
                     f"{accuracy if accuracy == '' else f'{accuracy:.2f}'} | "
                     f"`{record['weights_id'][:16]}` |")
    qualities = (GENERATIVE_MODELS[slug].qualities if slug in GENERATIVE_MODELS
                 else [int(name[1:]) for name in runs if name[1:].isdigit()] or [1])
    lines += ["", *markdown_lines(slug, qualities)]
    columns = ["quality", "bpp", "bpp-estimate", "PSNR dB", "MS-SSIM",
               *[m.upper() for m in perceptual], "JPEG PSNR at this bpp",
               "mbt2018-mean PSNR at this bpp", "decode s"]
    lines += ["**Evaluation** on the bundled `sample` set (6 photos, 451–600 px), "
              f"`codecbench run`, CPU ({platform.machine()}, {os.cpu_count()} cores).", "",
              "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in rows.iterrows():
        values = [str(row["quality"]), f"{row['bpp']:.4f}", f"{row['bpp-estimate']:.4f}",
                  f"{row['psnr']:.2f}", f"{row['ms-ssim']:.4f}",
                  *[f"{row[m]:.4f}" for m in perceptual], jpeg_psnr_at(jpeg, row["bpp"]),
                  value_at(cnn, row["bpp"]), f"{row['decode_s']:.3f}"]
        lines.append("| " + " | ".join(values) + " |")
    if not perceptual:
        lines += ["", "LPIPS / DISTS: not computed — their ImageNet backbone weights are not "
                  "on this machine (see docs/perceptual-metrics.md); run "
                  "`codecbench run --metric lpips-alex …` where they are."]
    if teacher is not None:
        student = rows.iloc[0]
        own = teacher.iloc[0]
        s_c, t_c = complexity(slug)["2"], complexity("hific")["2"]
        lines += ["", "**Student vs its online teacher** (the teacher exported by the same "
                  "run, `hific-omgd-teacher-q2.safetensors`, run as `torch/hific` q2; same "
                  "encoder and entropy models, so the same bits):", "",
                  "| decoder | parameters | kMAC / pixel | decode s (CPU) | bpp | PSNR dB | "
                  "MS-SSIM |", "|---|---|---|---|---|---|---|",
                  f"| teacher | {t_c['decoder_params']:,} | "
                  f"{t_c['decoder_kmacs_per_pixel']:.2f} | {own['decode_s']:.3f} | "
                  f"{own['bpp']:.4f} | {own['psnr']:.2f} | {own['ms-ssim']:.4f} |",
                  f"| student | {s_c['decoder_params']:,} | "
                  f"{s_c['decoder_kmacs_per_pixel']:.2f} | {student['decode_s']:.3f} | "
                  f"{student['bpp']:.4f} | {student['psnr']:.2f} | {student['ms-ssim']:.4f} |"]
    lines += ["", "These are short runs of small models (minutes on one GPU): the numbers are "
              "what these weights do, far from the papers' (which train for days at several "
              "times the width). Full records: " f"`{slug}.training.json`.", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "codecbench-gan-cards")
    args = parser.parse_args()
    perceptual = available_perceptual()
    metrics = [*BASE_METRICS, *perceptual]
    board = run(args.run_dir / "main", [f"torch/{slug}" for slug in SLUGS] +
                ["torch/mbt2018-mean", "jpeg"], metrics)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(SHIPPED_WEIGHTS / "hific-omgd-teacher-q2.safetensors",
                    Path(folder) / "hific-q2.safetensors")
        teacher = run(args.run_dir / "teacher", ["torch/hific"], metrics,
                      {"CODECBENCH_TORCH_WEIGHTS": folder}, qualities=[2])
    for slug in SLUGS:
        text = card(slug, board, teacher if slug == "hific-omgd" else None, perceptual)
        (SHIPPED_WEIGHTS / f"{slug}.md").write_text(text)
        print(f"wrote {SHIPPED_WEIGHTS / f'{slug}.md'}")


if __name__ == "__main__":
    main()
