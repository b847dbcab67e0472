"""Write the model card of every shipped recurrent model (``weights/<slug>.md``).

Sources, all committed or measured here:

* ``weights/<slug>.training.json`` (what ``codecbench train`` recorded: data and split,
  steps, schedule, hardware, time) and ``weights/<slug>.curves.csv`` (the run's training
  curve, ``curves.csv`` of its run folder);
* ``codecbench run`` of the shipped weights at :data:`ITERATIONS` on the held-out photos
  (``--data``, ``--split held-out``: photos the weights never saw) and on the bundled
  ``sample`` set, next to JPEG, JPEG 2000, WebP and the CNN models on the same photos (real
  bpp of the whole file, the code budget ``0.125·k`` bpp, the context model's estimate,
  PSNR, SSIM, MS-SSIM, times);
* BD-rates (PSNR, PCHIP) by :func:`codecbench.report.rd.bd_rate`, the function of
  ``codecbench leaderboard``, and JPEG's PSNR at each file's bpp (linear between JPEG's
  rate points);
* for the priming weights, a run of the spatially adaptive codec on the same photos
  (:func:`adaptive_gain`: its PSNR and SSIM against this codec's at the same bpp).

Usage::

    python scripts/make_rnn_model_cards.py --data TRAIN_PHOTOS [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from make_model_cards import METRICS, bd_text, training_split_text
from shipped_weights import SHIPPED_WEIGHTS

from codecbench.codecs.learned.complexity import markdown_lines
from codecbench.codecs.learned.models import ADAPTIVE_RECURRENT_MODELS, RECURRENT_MODELS

ANCHORS = ("jpeg", "jpeg2000", "webp")
CNN_REFERENCES = ("bls2017-factorized", "bmshj2018-hyperprior")
ITERATIONS = (1, 2, 3, 4, 8, 16)
"""The rate points evaluated (every one costs the recurrent steps of its iterations)."""
RNN_METRICS = (*METRICS, "ssim")
COMPARED_AT = 4
"""The iteration count whose gap to JPEG the target sentence quotes (≈ 0.4–0.5 bpp)."""


def held_out_options(data: Path) -> tuple[str, ...]:
    return ("--dataset", str(data), "--split", "held-out")


def run_codecs(run_dir: Path, codecs, dataset, qualities=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``codecbench run`` of ``codecs`` (at ``qualities``, or each codec's own) on
    ``dataset``, resumed when ``run_dir`` holds that run; its ``rows.csv`` (per photo) and
    ``leaderboard.csv`` (means per codec and rate point)."""
    command = [sys.executable, "-m", "codecbench", "run", *dataset, "--out", str(run_dir),
               "--no-progress", "-j", "2"]
    for codec in codecs:
        command += ["--codec", codec]
    for metric in RNN_METRICS:
        command += ["--metric", metric]
    for k in qualities:
        command += ["--quality", str(k)]
    environment = {k: v for k, v in os.environ.items() if k != "CODECBENCH_TORCH_WEIGHTS"}
    subprocess.run(command, check=True, env=environment)
    return pd.read_csv(run_dir / "rows.csv"), pd.read_csv(run_dir / "leaderboard.csv")


def jpeg_psnr_at(jpeg: pd.DataFrame, bpp: float) -> float:
    """JPEG's mean PSNR at ``bpp`` (linear between its rate points; nan outside them)."""
    jpeg = jpeg.sort_values("bpp")
    if not jpeg["bpp"].min() <= bpp <= jpeg["bpp"].max():
        return math.nan
    return float(np.interp(bpp, jpeg["bpp"], jpeg["psnr"]))


def _db(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}"


def recent_slope(curve: pd.DataFrame, record: dict) -> tuple[float, int, int]:
    """The training curve's PSNR change per 1000 steps over the second half of the run
    (a least-squares line through the logged points; the learning-rate decays included,
    so it shows how the run was flattening when it stopped)."""
    part = curve[curve["step"] >= 0.5 * int(record["steps"])]
    slope = float(np.polyfit(part["step"], part["psnr"], 1)[0]) * 1000
    return slope, int(part["step"].min()), int(part["step"].max())


def table_lines(rows: pd.DataFrame, jpeg: pd.DataFrame, entry) -> list[str]:
    lines = ["| iterations | code budget bpp | bpp (file) | bpp-estimate | saving vs budget | "
             "PSNR dB | JPEG PSNR dB at this bpp | SSIM | MS-SSIM | encode s | decode s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in rows.sort_values("quality").iterrows():
        k = int(row["quality"])
        budget = entry.bound_bpp(k)
        lines.append(
            f"| {k} | {budget:.3f} | {row['bpp']:.4f} | {row['bpp-estimate']:.4f} | "
            f"{(1 - row['bpp'] / budget) * 100:+.1f} % | {row['psnr']:.2f} | "
            f"{_db(jpeg_psnr_at(jpeg, row['bpp']))} | {row['ssim']:.4f} | "
            f"{row['ms-ssim']:.4f} | {row['encode_s']:.3f} | {row['decode_s']:.3f} |")
    return lines


def target_sentence(slug: str, held_out: pd.DataFrame, curve: pd.DataFrame,
                    record: dict) -> str:
    """Is the family target met (ahead of JPEG on the held-out photos)? By how much not,
    and the steps a straight extension of the training curve would need."""
    codec = f"torch/{slug}"
    rows = held_out[held_out["codec"] == codec].set_index("quality")
    jpeg = held_out[held_out["codec"] == "jpeg"]
    bd, value = bd_text(held_out, "jpeg", codec)
    gaps = {k: row["psnr"] - jpeg_psnr_at(jpeg, row["bpp"]) for k, row in rows.iterrows()}
    measured = {k: g for k, g in gaps.items() if not math.isnan(g)}
    if not math.isnan(value) and value < 0:
        return f"met: BD-rate against JPEG {bd} on the held-out photos."
    if not math.isnan(value):
        head = f"not met: BD-rate against JPEG {bd} on the held-out photos"
    else:
        head = f"not met: the BD-rate against JPEG is {bd}"
    if not measured:
        return head + "; no rate point lies inside JPEG's rate range."
    worst, best = min(measured.values()), max(measured.values())
    at = measured.get(COMPARED_AT, next(iter(measured.values())))
    k_at = COMPARED_AT if COMPARED_AT in measured else next(iter(measured))
    text = (f"{head}; at equal bpp these weights are {-best:.1f} to {-worst:.1f} dB below "
            f"JPEG's PSNR ({-at:.1f} dB at {k_at} iterations, {rows.loc[k_at, 'bpp']:.3f} bpp)")
    slope, first, last = recent_slope(curve, record)
    if slope <= 0 or at >= 0:
        return text + (f". The training curve did not rise over the second half of the run "
                       f"(steps {first}–{last}): no budget can be extrapolated from it.")
    needed = -at / slope * 1000
    hours = needed / record["steps"] * record["train_seconds"] / 3600
    return text + (
        f". The training curve (PSNR after {RECURRENT_MODELS[slug].iterations} iterations on "
        f"the training crops, `{slug}.curves.csv`) rose {slope:.2f} dB per 1 000 steps over "
        f"the second half of the run (steps {first}–{last}, learning-rate decays included); "
        f"extended in a straight line, closing "
        f"{-at:.1f} dB takes ≈ {needed:,.0f} more steps (≈ {hours:.2g} CPU hours at this "
        "run's speed). The crops' PSNR is noisy and such curves flatten, so that is a lower "
        "bound, not a forecast; the papers' widths "
        "(64/256/512/512 and 512/512/256/128) and days of GPU training are what their "
        "published curves took.")


def card(slug: str, held_out: pd.DataFrame, sample: pd.DataFrame, curve: pd.DataFrame) -> str:
    entry = RECURRENT_MODELS[slug]
    record = json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())
    stages = [*record.get("previous", []), record]
    size = (SHIPPED_WEIGHTS / f"{slug}.safetensors").stat().st_size
    codec = f"torch/{slug}"
    coding = ("range coded (CompressAI rANS) with the learned binary context model"
              if entry.entropy_coded else "stored raw (no entropy coding, as in the paper)")
    training = []
    for index, stage in enumerate(stages, 1):
        config = stage["config"]
        start = (f"from the `{stage['parent'].get('codec')}` run's checkpoint at step "
                 f"{stage['parent'].get('steps')}" if stage.get("parent") else "from scratch")
        training.append(
            f"{index}. {stage['steps']} steps {start}, batch {config['batch_size']} of "
            f"{config['patch_size']}×{config['patch_size']} crops, Adam lr "
            f"{config['learning_rate']:g} (×{config['lr_gamma']} after "
            f"{', '.join(f'{m:.0%}' for m in config['lr_milestones'])} of the steps), "
            f"{stage['train_seconds'] / 60:.0f} min on {stage['hardware']} (one thread).")
    data = record["data"]
    if data.get("split") != "train":
        raise SystemExit(f"{slug}.training.json: trained on --split {data.get('split', 'all')}, "
                         "so the held-out photos were seen; retrain with --split train")
    held_rows = held_out[held_out["codec"] == codec]
    sample_rows = sample[sample["codec"] == codec]
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
        f"**Data.** {training_split_text(data['images'])} Random crops with horizontal "
        "flips. The held-out photos were never seen.",
        "",
        f"**Training** (`codecbench train {codec} --split train`, the commands of "
        "`docs/rnn-codecs.md`), loss "
        f"`{entry.loss}` over all {entry.iterations} unrolled iterations, stochastic "
        f"binariser, gradient-norm clipping 1.0, torch {record['versions']['torch']}:",
        *training,
        "",
        "These are minutes of CPU training of a small network (the papers train for days on "
        "GPUs): the numbers below are what these weights do, far below the papers' curves.",
        "",
        *markdown_lines(slug, (1, 4, 16)),
        f"**Evaluation on the held-out photos** (`codecbench run --dataset <41 photos> "
        f"--split held-out`, 7 photos, 1024 px wide), CPU ({platform.machine()}, "
        f"{os.cpu_count()} cores). BD-rate (PSNR, PCHIP) against JPEG: "
        f"**{bd_text(held_out, 'jpeg', codec)[0]}**; against torch/bls2017-factorized: "
        f"**{bd_text(held_out, 'torch/bls2017-factorized', codec)[0]}**.",
        "",
        *table_lines(held_rows, held_out[held_out["codec"] == "jpeg"], entry),
        "",
        f"**Evaluation on the bundled `sample` set** (6 photos, 451–600 px): BD-rate against "
        f"JPEG **{bd_text(sample, 'jpeg', codec)[0]}**.",
        "",
        *table_lines(sample_rows, sample[sample["codec"] == "jpeg"], entry),
        "",
        "**The quality target** (the RNN family ahead of JPEG on the held-out photos): "
        + target_sentence(slug, held_out, curve, record),
        "",
        "`code budget` is 0.125·k bpp, the binary codes before entropy coding; `bpp (file)` "
        "is the whole file (container header, one string per iteration, padding to 16 px "
        "included), averaged over the photos; `saving` is 1 − file/budget (negative where "
        "header and padding outweigh the coding gain). Weights id "
        f"`{record['weights_id']}`; full training record: `{slug}.training.json`, training "
        f"curve: `{slug}.curves.csv`.",
        "",
    ]
    return "\n".join(lines)


def adaptive_gain(rows: pd.DataFrame, adaptive: str, base: str) -> pd.DataFrame:
    """Per rate point of ``adaptive``: its mean bpp, estimate, PSNR and SSIM, and its mean
    ΔPSNR/ΔSSIM against ``base`` at the same bpp — per photo, ``base``'s 1–4-iteration
    points interpolated linearly at the adaptive file's bpp (photos whose adaptive bpp lies
    outside that range are left out, and counted)."""
    fixed = rows[rows["codec"] == base]
    fixed = fixed[fixed["quality"].astype(int).between(1, 4)]
    result = []
    for quality, group in rows[rows["codec"] == adaptive].groupby("quality"):
        deltas = {"psnr": [], "ssim": []}
        for _, row in group.iterrows():
            curve = fixed[fixed["image_id"] == row["image_id"]].sort_values("bpp")
            if curve.empty or not curve["bpp"].min() <= row["bpp"] <= curve["bpp"].max():
                continue
            for metric in deltas:
                deltas[metric].append(row[metric] - np.interp(row["bpp"], curve["bpp"],
                                                              curve[metric]))
        result.append({
            "quality": int(quality), "bpp": group["bpp"].mean(),
            "bpp-estimate": group["bpp-estimate"].mean(), "psnr": group["psnr"].mean(),
            "ssim": group["ssim"].mean(), "n": len(deltas["psnr"]), "photos": len(group),
            "d_psnr": np.mean(deltas["psnr"]) if deltas["psnr"] else math.nan,
            "d_psnr_min": min(deltas["psnr"], default=math.nan),
            "d_psnr_max": max(deltas["psnr"], default=math.nan),
            "d_ssim": np.mean(deltas["ssim"]) if deltas["ssim"] else math.nan,
        })
    return pd.DataFrame(result)


ADAPTIVE_TEXT = """\
The paper's second half, spatially adaptive bit rates, runs this network and **this weights
file** (no separate file, no further training): the encoder stops coding each 16×16 code
position once its PSNR reaches the rate point's target ({targets} dB =
rate points 1–{n}) or once an iteration raised it by less than {min_gain} dB; the file carries
the stop map (iterations per position, coded with the image's own histogram) and only the
active positions' bits; stopped positions get zero codes and keep their pixels. Details:
`docs/rnn-codecs.md` ("Spatially adaptive bit rates").

Simplifications against the paper: a per-block PSNR target instead of the paper's SSIM-based
one (PSNR is defined on flat blocks and is the leaderboards' first metric); stopped
positions keep their pixels (the paper lets the decoder keep updating them from zero codes,
which this network, never trained with zero codes, turns into errors of several dB); the
{min_gain} dB saturation rule (this small network saturates after about 8 iterations); no
learned or spatial model of the stop map.
"""


def adaptive_section(slug: str, sets: dict[str, pd.DataFrame]) -> str:
    """The card section of the spatially adaptive codec that runs ``slug``'s weights."""
    models = [m for m in ADAPTIVE_RECURRENT_MODELS.values() if m.base == slug]
    if not models:
        return ""
    model = models[0]
    adaptive, base = f"torch/{model.slug}", f"torch/{slug}"
    lines = ["", f"## The spatially adaptive codec on these weights: `{adaptive}`, "
             f"`tf/{model.slug}`", "",
             ADAPTIVE_TEXT.format(targets=", ".join(f"{t:g}" for t in model.targets),
                                  n=len(model.targets), min_gain=f"{model.min_gain_db:g}"),
             f"**Evaluation** (`codecbench run --codec {adaptive}`, this script; Δ = adaptive "
             f"− `{base}` at the same bpp, linear between its 1–4-iteration points, per "
             "photo, averaged; min…max over the photos):", "",
             "| set | rate point (target) | bpp (file) | bpp-estimate | PSNR dB | SSIM | "
             "ΔPSNR dB (min…max) | ΔSSIM | photos compared |",
             "|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for name, rows in sets.items():
        gain = adaptive_gain(rows, adaptive, base)
        for _, row in gain.iterrows():
            lines.append(
                f"| {name} | {int(row['quality'])} ({model.target(int(row['quality'])):g} dB) "
                f"| {row['bpp']:.4f} | {row['bpp-estimate']:.4f} | {row['psnr']:.2f} | "
                f"{row['ssim']:.4f} | {row['d_psnr']:+.2f} ({row['d_psnr_min']:+.2f}…"
                f"{row['d_psnr_max']:+.2f}) | {row['d_ssim']:+.3f} | {int(row['n'])} of "
                f"{int(row['photos'])} |")
        compared = gain[gain["n"] > 0]
        if compared.empty:
            verdicts.append(f"on {name} no adaptive file lies inside the fixed codec's "
                            "1–4-iteration range")
            continue
        ahead_psnr = int((compared["d_psnr"] >= 0).sum())
        ahead_ssim = int((compared["d_ssim"] >= 0).sum())
        verdicts.append(
            f"on {name} it is at least as good in PSNR at {ahead_psnr} of {len(compared)} "
            f"rate points (mean Δ {compared['d_psnr'].min():+.2f} to "
            f"{compared['d_psnr'].max():+.2f} dB) and in SSIM at {ahead_ssim} of "
            f"{len(compared)}")
    lines += ["", "The paper's claim (adaptive allocation no worse at equal rate), measured: "
              + "; ".join(verdicts) + ". What would close a gap: an SSIM-based target and a "
              "network trained with zero codes for stopped blocks (the paper's setting), and "
              "longer training so that hard blocks keep improving beyond 8 iterations.", ""]
    return "\n".join(lines)


def evaluate_set(run_dir: Path, dataset: tuple[str, ...], slugs: list[str]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every per-photo row and every leaderboard row of one photo set: anchors and CNN
    references, the recurrent models at :data:`ITERATIONS`, the adaptive codecs at their
    own rate points."""
    references = [*ANCHORS, *(f"torch/{slug}" for slug in CNN_REFERENCES)]
    recurrent = [f"torch/{slug}" for slug in slugs]
    adaptive = [f"torch/{m.slug}" for m in ADAPTIVE_RECURRENT_MODELS.values() if m.base in slugs]
    parts = [run_codecs(run_dir / "references", references, dataset),
             run_codecs(run_dir / "recurrent", recurrent, dataset, ITERATIONS)]
    if adaptive:
        parts.append(run_codecs(run_dir / "adaptive", adaptive, dataset))
    return (pd.concat([rows for rows, _ in parts], ignore_index=True),
            pd.concat([board for _, board in parts], ignore_index=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the 41 training photos")
    parser.add_argument("--run-dir", type=Path, default=Path("codecbench-results/rnn-cards"))
    args = parser.parse_args()
    slugs = [slug for slug in RECURRENT_MODELS
             if (SHIPPED_WEIGHTS / f"{slug}.training.json").exists()]
    evaluated = {"held-out": evaluate_set(args.run_dir / "held-out",
                                          held_out_options(args.data), slugs),
                 "sample": evaluate_set(args.run_dir / "sample", ("--dataset", "sample"), slugs)}
    sets = {name: rows for name, (rows, _) in evaluated.items()}
    boards = {name: board for name, (_, board) in evaluated.items()}
    print("| codec | held-out BD-rate vs JPEG | PSNR at 1 / 4 / 16 it. (held-out) | "
          "sample BD-rate vs JPEG |")
    print("|---|---|---|---|")
    for slug in slugs:
        curve = pd.read_csv(SHIPPED_WEIGHTS / f"{slug}.curves.csv")
        text = card(slug, boards["held-out"], boards["sample"], curve)
        path = SHIPPED_WEIGHTS / f"{slug}.md"
        path.write_text(text + adaptive_section(slug, sets), encoding="utf-8")
        codec = f"torch/{slug}"
        rows = boards["held-out"][boards["held-out"]["codec"] == codec]
        rows.index = rows["quality"].astype(int)
        print(f"| `{codec}` | {bd_text(boards['held-out'], 'jpeg', codec)[0]} | "
              f"{rows.loc[1, 'psnr']:.2f} / {rows.loc[4, 'psnr']:.2f} / "
              f"{rows.loc[16, 'psnr']:.2f} | {bd_text(boards['sample'], 'jpeg', codec)[0]} |")


if __name__ == "__main__":
    main()
