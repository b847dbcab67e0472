"""Tiny torch weights with non-trivial parameters, for the TF codec and conversion tests."""

from __future__ import annotations

from pathlib import Path

from codecbench.codecs.learned.hyperprior.tf.codecs import TF_PRIORS
from codecbench.codecs.learned.models import LEARNED_MODELS

TINY_N, TINY_M = 8, 12


def perturbed_model(entry, seed: int, rate_points: int = 0):
    """A random CompressAI model of ``entry`` whose GDN and density parameters are not at
    their (symmetric, identity-like) initial values, so that layouts are really tested
    (``rate_points``: with that many rows of gain units, perturbed as well)."""
    import torch

    from codecbench.codecs.learned.hyperprior.torch import weights as weights_io

    torch.manual_seed(seed)
    model = weights_io.build_model(entry.compressai_class, TINY_N, TINY_M,
                                   rate_points=rate_points)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not name.endswith("quantiles"):
                parameter.add_(0.05 * torch.randn_like(parameter))
    model.update(force=True)
    return model.eval()


def write_tiny_torch_weights(folder: Path, qualities=(1, 2)) -> Path:
    """Torch weights files of every TF-capable model at ``qualities`` in ``folder``."""
    from codecbench.codecs.learned import weights_locator
    from codecbench.codecs.learned.hyperprior.torch import weights as weights_io

    for slug, entry in LEARNED_MODELS.items():
        if entry.prior not in TF_PRIORS:
            continue
        for quality in qualities:
            metadata = {"model": slug, "class": entry.compressai_class, "N": str(TINY_N),
                        "M": str(TINY_M), "quality": str(quality), "lambda": "0.01",
                        "metric": "mse"}
            weights_io.save_model(perturbed_model(entry, seed=quality),
                                  folder / weights_locator.weights_filename("torch", slug, quality), metadata)
    return folder


def write_tiny_variable_rate_weights(folder: Path, slugs) -> Path:
    """One variable-rate torch weights file (gain units for every rate point, their initial
    ladder 0.25 … 1 perturbed) per slug."""
    from codecbench.codecs.learned import weights_locator
    from codecbench.codecs.learned.hyperprior.torch import weights as weights_io

    for slug in slugs:
        entry = LEARNED_MODELS[slug]
        points = len(entry.lambdas)
        metadata = {"model": slug, "class": entry.compressai_class, "N": str(TINY_N),
                    "M": str(TINY_M), "quality": "0", "rate_points": str(points),
                    "lambda": ",".join(map(str, entry.lambdas)), "metric": "mse"}
        model = perturbed_model(entry, seed=7, rate_points=points)  # gains 0.25 … 1
        weights_io.save_model(model, folder / weights_locator.weights_filename("torch", slug),
                              metadata)
    return folder
