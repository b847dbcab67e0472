"""Write the model card of every shipped hyperprior-family network that serves all its rate
points (``weights/<model>.md`` next to ``<model>.safetensors``, trained with
``codecbench train torch/<model> --variable-rate --split train``).

Each card is built from what is committed or measured here:

* ``weights/<model>.training.json``: what ``codecbench train`` recorded (data and split, λ
  ladder, steps, schedule, hardware, time, versions);
* a ``codecbench run`` on the held-out photos (``--data``, ``--split held-out``: photos the
  weights never saw) with JPEG, JPEG 2000 and WebP, and one on the bundled ``sample`` set
  with JPEG; BD-rates (PSNR, PCHIP) by :func:`codecbench.report.rd.bd_rate`, the function of
  ``codecbench leaderboard``;
* the held-out training curve of ``scripts/heldout_training_curve.py`` (``--curves``:
  ``<model>-curve.csv``): BD-rate against JPEG at each checkpoint, and the number of steps
  the quality target (−25 %) would need if the last interval's trend went on.

Usage::

    python scripts/make_variable_rate_cards.py --data TRAIN_PHOTOS --curves CURVES \\
        [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
from heldout_training_curve import last_interval_extrapolation
from make_model_cards import bd_text, evaluate, training_split_text
from shipped_weights import SHIPPED_WEIGHTS

from codecbench.codecs.learned.complexity import markdown_lines
from codecbench.codecs.learned.models import LEARNED_MODELS

TARGET = -25.0
"""The quality target: BD-rate (PSNR) against JPEG on the held-out photos, in %."""
ANCHORS = ("jpeg", "jpeg2000", "webp")
RUN_NOTES = {"bao2022-attention": "two threads, sharing the 2-core CPU with other work",
             "mbt2018": "one thread, sharing the 2-core CPU with evaluation jobs"}
"""How a run shared its machine, where it differs from the recipe's default (one thread,
shared with the recipe's other runs)."""
ARCHITECTURE_NOTES = {
    "attention": (
        " Codecbench's `AttentionHyperprior` (CompressAI's `MeanScaleHyperprior` with its "
        "entropy models and rANS) adds hybrid-domain attention (channel, then spatial) in "
        "g_a, g_s, h_a and h_s, an inverse-quantisation refinement of ŷ before g_s, a "
        "post-processing refinement of x̂, and a Gaussian-scale mixture of 3 components "
        "(learned weights and scale ratios in [¼, 4], one shape shared by all elements, "
        "coded on the 64-scale table). Ours, because only the paper's abstract was "
        "available: the block placement, the refinements' depth (3 convolutions) and widths "
        "(N for ŷ, 32 for x̂), the CBAM arrangement of the attentions and the shared mixture "
        "shape (`docs/learned-codecs.md`, Hybrid-domain attention)."),
}
PRIOR_NOTES = {
    "autoregressive": (" The masked 5×5 context model makes decoding serial (CompressAI's "
                       "per-position loop in `torch/mbt2018`, a raster-order loop on the 12 "
                       "causal taps in `tf/mbt2018`): hence the decode times below."),
}
LOSS_NOTES = {
    "attention": (" Mixed quantisation: the rate term on y + u (uniform noise), the "
                  "decoder on round(y − μ) + μ with a straight-through gradient."),
}


def variable_rate_slugs() -> list[str]:
    """The shipped models whose training record is one variable-rate run."""
    slugs = []
    for slug in LEARNED_MODELS:
        path = SHIPPED_WEIGHTS / f"{slug}.training.json"
        if path.exists() and json.loads(path.read_text()).get("variable_rate"):
            slugs.append(slug)
    return slugs


def gains(slug: str) -> list[float]:
    """The mean gain ``g_q`` of each rate point in the shipped file."""
    from safetensors.numpy import load_file

    tensors = load_file(str(SHIPPED_WEIGHTS / f"{slug}.safetensors"))
    return [float(row.astype(np.float64).mean()) for row in tensors["gain_units.gain"]]


def curve_lines(curve: pd.DataFrame, train_seconds: float) -> tuple[list[str], str]:
    """The training-curve table and the extrapolation sentence (``train_seconds``: the
    run's time, for the CPU hours of the extrapolated steps)."""
    lines = ["| step | held-out BD-rate vs JPEG | lowest point bpp / PSNR dB | "
             "top point bpp / PSNR dB |", "|---|---|---|---|"]
    for _, row in curve.iterrows():
        value = row["bd_rate_vs_jpeg"]
        lines.append(f"| {int(row['step'])} | "
                     f"{'–' if math.isnan(value) else f'{value:+.1f} %'} | "
                     f"{row['lowest_bpp']:.3f} / {row['lowest_psnr']:.2f} | "
                     f"{row['top_bpp']:.3f} / {row['top_psnr']:.2f} |")
    needed, sentence = last_interval_extrapolation(curve, TARGET)
    last = int(curve["step"].max())
    cost = (f" (≈ {needed / last * train_seconds / 3600:.2g} CPU hours at this run's speed)"
            if needed is not None and needed > last else "")
    return lines, (f"Extending the measured curve in a straight line: {sentence}{cost}. "
                   "Such curves flatten, so the real budget is larger; and the learning-rate "
                   "decays (after 80 % and 95 % of the steps) move the curve more than the "
                   "steps around them, so this is a rough guide, not a measurement.")


def card(slug: str, held_out: pd.DataFrame, sample: pd.DataFrame, curve: pd.DataFrame) -> str:
    entry = LEARNED_MODELS[slug]
    record = json.loads((SHIPPED_WEIGHTS / f"{slug}.training.json").read_text())
    config = record["config"]
    codec = f"torch/{slug}"
    size = (SHIPPED_WEIGHTS / f"{slug}.safetensors").stat().st_size
    rows = held_out[held_out["codec"] == codec].sort_values("quality")
    sample_rows = sample[sample["codec"] == codec].sort_values("quality")
    bd = {anchor: bd_text(held_out, anchor, codec) for anchor in ANCHORS}
    sample_bd, _ = bd_text(sample, "jpeg", codec)
    anchors_vs_jpeg = {anchor: bd_text(held_out, "jpeg", anchor)[0] for anchor in ANCHORS[1:]}
    curve_table, extrapolation = curve_lines(curve, record["train_seconds"])
    point_gains = gains(slug)
    milestones = ", ".join(f"{m:.0%}" for m in config["lr_milestones"])
    value = bd["jpeg"][1]
    psnr = rows["psnr"].to_numpy(float)
    steps_db = ", ".join(f"{step:+.2f}" for step in np.diff(psnr))
    rising = (f"PSNR rises at every rate point on the held-out photos (dB per step up the "
              f"ladder: {steps_db})" if np.all(np.diff(psnr) > 0) else
              f"the held-out PSNR does not rise at every rate point (dB per step: {steps_db})")
    if math.isnan(value):
        verdict = "not met: the BD-rate against JPEG is not computable. "
    elif value <= TARGET:
        verdict = "met. "
    else:
        verdict = f"not met, by {value - TARGET:.1f} percentage points. "
    class_origin = "codecbench" if entry.architecture != "gdn" else "CompressAI"
    lines = [
        f"# Model card: torch/{slug}",
        "",
        f"**Architecture.** {entry.paper}; {class_origin} `{entry.compressai_class}` with "
        f"N = {record['N']}, M = {record['M']} (CompressAI's own models use N = 128–192, "
        f"M = 192–320), prior: {entry.prior}. One network for every rate point: gain units "
        "(Cui et al. 2021, `y = g_a(x) ⊙ g_q`, `x̂ = g_s(ŷ ⊙ g'_q)`, "
        "`codecbench.codecs.learned.hyperprior.torch.gains`). Weights: safetensors, "
        f"convolution kernels float16, {size / 1e6:.1f} MB for all {len(entry.lambdas)} rate "
        f"points; `tf/{slug}` runs the same file, converted at load time."
        + ARCHITECTURE_NOTES.get(entry.architecture, "") + PRIOR_NOTES.get(entry.prior, ""),
        "",
        f"**Data.** {training_split_text(record['data']['images'])} "
        f"Random {config['patch_size']}×"
        f"{config['patch_size']} crops with horizontal flips, batch {config['batch_size']}, "
        "each step at a rate point drawn at random. The held-out photos were never seen.",
        "",
        f"**Training** (`codecbench train {codec} --variable-rate`, recipe "
        "`scripts/train_shipped_weights.py --variable-rate`; this run: "
        f"`--split train --steps {config['steps']} --batch-size {config['batch_size']} "
        f"--patch-size {config['patch_size']} --lr {config['learning_rate']:g} "
        f"--half-kernels`, {RUN_NOTES.get(slug, 'one thread, shared with the recipe’s other runs')}), "
        f"on {record['hardware']}, torch {record['versions']['torch']}, "
        f"CompressAI {record['versions']['compressai']}: {record['steps']} steps, Adam lr "
        f"{config['learning_rate']:g} (×{config['lr_gamma']} after {milestones} of the steps), "
        f"{record['train_seconds'] / 60:.0f} minutes. Loss per step: λ_q·255²·MSE + bpp with "
        "the drawn point's λ_q (CompressAI's `RateDistortionLoss`), auxiliary quantile loss "
        "on the entropy bottleneck, gradient-norm clipping 1.0."
        + LOSS_NOTES.get(entry.architecture, "") + " A short CPU run of a small "
        "model: the numbers below are what these weights do, far below the paper's curves.",
        "",
        *markdown_lines(slug, entry.qualities),
        f"(The gain units add 2 × {len(entry.lambdas)} × {record['M']} parameters.)",
        "",
        f"**Evaluation on the held-out photos** (`codecbench run --dataset <41 photos> --split "
        f"held-out`, 7 photos, 1024 px wide), CPU ({platform.machine()}, {os.cpu_count()} "
        "cores):",
        "",
        "| quality | λ | mean gain g_q | bpp | bpp-estimate | gap | PSNR dB | MS-SSIM | "
        "encode s | decode s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in rows.iterrows():
        quality = int(row["quality"])
        gap = (row["bpp"] / row["bpp-estimate"] - 1) * 100
        lines.append(f"| {quality} | {entry.lambda_of(quality)} | {point_gains[quality - 1]:.3f} "
                     f"| {row['bpp']:.4f} | {row['bpp-estimate']:.4f} | {gap:+.1f} % | "
                     f"{row['psnr']:.2f} | {row['ms-ssim']:.4f} | {row['encode_s']:.3f} | "
                     f"{row['decode_s']:.3f} |")
    lines += [
        "",
        f"**Held-out BD-rate against JPEG** (PSNR, PCHIP, over the common PSNR range): "
        f"**{bd['jpeg'][0]}**; against JPEG 2000 {bd['jpeg2000'][0]}, against WebP "
        f"{bd['webp'][0]} (JPEG 2000 and WebP against JPEG on the same photos: "
        f"{anchors_vs_jpeg['jpeg2000']}, {anchors_vs_jpeg['webp']}).",
        "",
        f"**Evaluation on the bundled `sample` set** (6 photos, 451–600 px, `codecbench run`): "
        f"BD-rate against JPEG {sample_bd}.",
        "",
        "| quality | bpp | bpp-estimate | PSNR dB | MS-SSIM |",
        "|---|---|---|---|---|",
        *(f"| {int(r['quality'])} | {r['bpp']:.4f} | {r['bpp-estimate']:.4f} | {r['psnr']:.2f} "
          f"| {r['ms-ssim']:.4f} |" for _, r in sample_rows.iterrows()),
        "",
        "**Held-out training curve** (`scripts/heldout_training_curve.py`: the checkpoints of "
        "this run exported and evaluated on the held-out photos):",
        "",
        *curve_table,
        "",
        "**The quality target** (≤ −25 % BD-rate against JPEG on the held-out photos, rising "
        f"curves below 1 bpp): {verdict}{rising}. " +
        ("" if verdict == "met. " else extrapolation + " The paper's widths (N = 128–192, "
         "M = 192–320), 256² crops in batches of 16 and 10⁵–10⁶ steps on a GPU are what "
         "the published curves took."),
        "",
        "`gap` is the real file size (container header and rANS overhead included) over the "
        "entropy model's estimate Σ −log2 p(ŷ). Full training record: "
        f"`{slug}.training.json`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the 41 training photos")
    parser.add_argument("--curves", type=Path, required=True,
                        help="folder of heldout_training_curve.py's <model>-curve.csv")
    parser.add_argument("--run-dir", type=Path,
                        default=Path("codecbench-results/variable-rate-cards"))
    parser.add_argument("--models", help="comma-separated slugs (default: every "
                                         "variable-rate network shipped)")
    args = parser.parse_args()
    slugs = variable_rate_slugs()
    if args.models:
        wanted = args.models.split(",")
        unknown = sorted(set(wanted) - set(slugs))
        if unknown:
            parser.error(f"not shipped as a variable-rate network: {', '.join(unknown)}")
        slugs = wanted
    held_out = evaluate(args.run_dir / "held-out", slugs,
                        ("--dataset", str(args.data), "--split", "held-out"), ANCHORS)
    sample = evaluate(args.run_dir / "sample", slugs)
    for slug in slugs:
        curve = pd.read_csv(args.curves / f"{slug}-curve.csv")
        text = card(slug, held_out, sample, curve)
        (SHIPPED_WEIGHTS / f"{slug}.md").write_text(text, encoding="utf-8")
        print(f"wrote {SHIPPED_WEIGHTS / f'{slug}.md'}")


if __name__ == "__main__":
    main()
