"""Tiny recurrent weights for the RNN codec tests (randomly initialised, real context tables)."""

from pathlib import Path

import numpy as np

from codecbench.api.images import load_rgb
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import RECURRENT_MODELS
from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling
from codecbench.datasets.builtin import SAMPLE_DIR

PHOTOS = sorted(SAMPLE_DIR.glob("*.webp"))
TINY_CHANNELS = (8, 16)


def photo(index=0, height=75, width=99, top=40, left=60) -> np.ndarray:
    """A crop of a real photo (odd sizes: padding and patch borders are exercised)."""
    return np.ascontiguousarray(load_rgb(PHOTOS[index])[top:top + height, left:left + width])


def write_tiny_weights(folder: Path) -> Path:
    """A randomly initialised tiny network per recurrent model, context tables counted on
    one real photo, saved as the trainer saves them."""
    import torch

    from codecbench.codecs.learned import weights_locator
    from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
    from codecbench.codecs.learned.recurrent.torch.network import (
        RecurrentCompressor,
        decoder_widths,
        encoder_widths,
    )

    for seed, (slug, entry) in enumerate(RECURRENT_MODELS.items()):
        torch.manual_seed(seed)
        network = RecurrentCompressor(entry, encoder_widths(entry, TINY_CHANNELS),
                                      decoder_widths(entry, TINY_CHANNELS)).eval()
        probabilities = None
        if entry.entropy_coded:
            batch, tiling = recurrent_tiling.network_input(photo(1, 128, 128), 0)
            with torch.no_grad():
                codes, _ = network(torch.from_numpy(batch).permute(0, 3, 1, 2),
                                   entry.iterations, stochastic=False)
            counts = binary_codes.ContextCounts(entry.iterations, entry.code_channels)
            counts.add(np.stack([recurrent_tiling.codes_to_grid(
                binary_codes.to_bits(code.permute(0, 2, 3, 1).numpy()), tiling)
                for code in codes]))
            probabilities = counts.probabilities()
        recurrent_weights.save_recurrent(
            network, probabilities, folder / weights_locator.weights_filename("torch", slug),
            {"model": slug, "steps": "0", "codec": f"torch/{slug}"})
    return folder
