"""Tiny tiled-codec weights for the tests (randomly initialised networks, real tables
counted on a real photo by the codec's own allocation)."""

from pathlib import Path

from codecbench.codecs.learned.models import TILED_MODELS
from rnn_fixtures import photo

ENTRY = TILED_MODELS["minnen2017-tiled"]
TINY_WIDTHS = (8, 8)


def write_tiny_weights(folder: Path, seed: int = 0) -> Path:
    """``minnen2017-tiled.safetensors`` of a random tiny network in ``folder``."""
    import torch

    from codecbench.codecs.learned import weights_locator
    from codecbench.codecs.learned.tiled.torch.network import TiledNetwork
    from codecbench.codecs.learned.tiled.torch.training import count_tables
    from codecbench.codecs.learned.tiled.torch.weights import save_tiled

    torch.manual_seed(seed)
    network = TiledNetwork(ENTRY, *TINY_WIDTHS).eval()
    image = torch.from_numpy(photo(1, 160, 160, 20, 20)).permute(2, 0, 1).contiguous()
    bit_table, count_table = count_tables(network, ENTRY, [image], seed, crops=2)
    path = folder / weights_locator.weights_filename("torch", ENTRY.slug)
    save_tiled(network, bit_table, count_table, path,
               {"model": ENTRY.slug, "steps": "0", "codec": f"torch/{ENTRY.slug}"})
    return path
