"""Tiny randomly initialised code-space predictor weights for the codec tests."""

from pathlib import Path

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.models import CODESPACE_MODELS

ENTRY = CODESPACE_MODELS["klopp2018-codespace"]
TINY = {"width": 8, "code_channels": 4, "predictor_width": 8}


def write_tiny_weights(folder: Path, seed: int = 0) -> Path:
    """A tiny network saved as the trainer saves it; returns the file."""
    import torch

    from codecbench.codecs.learned.codespace.torch.codecs import save_codespace
    from codecbench.codecs.learned.codespace.torch.network import CodeSpace

    torch.manual_seed(seed)
    network = CodeSpace(ENTRY, **TINY).eval()
    path = Path(folder) / weights_locator.weights_filename("torch", ENTRY.slug)
    save_codespace(network, path, {"model": ENTRY.slug, "steps": "0"})
    return path


def trained_weights() -> Path | None:
    """The trained torch weights this process finds (shipped, or in
    ``CODECBENCH_TORCH_WEIGHTS``), if any."""
    return weights_locator.find_weights("torch", ENTRY.slug)
