"""Where the perceptual metrics find their pretrained weights (framework-free).

LPIPS, DISTS, FID and KID are functions of networks pretrained on ImageNet, whose
weights codecbench never downloads and are not ours to ship. Each file is looked up, first
match wins, in:

1. every folder of ``CODECBENCH_PERCEPTUAL_WEIGHTS`` (``os.pathsep``-separated);
2. torch.hub's checkpoint cache, ``$TORCH_HOME/hub/checkpoints`` (``TORCH_HOME``
   defaults to ``$XDG_CACHE_HOME/torch``, i.e. ``~/.cache/torch``) — where torchvision,
   ``lpips`` and ``pytorch-fid`` keep what they downloaded;
3. for the small heads that ship inside a package (LPIPS's linear layers, DISTS's α/β),
   that package's own file, found without importing it.

A metric whose files are missing is *unavailable* and says which file to put where; it
never falls back to other weights.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_ENV = "CODECBENCH_PERCEPTUAL_WEIGHTS"


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained file: its usual name and, for package-shipped heads, where the
    package keeps it (``package``, path inside the package)."""

    name: str
    what: str
    package: str = ""
    package_path: str = ""


BACKBONES = {
    "alex": WeightsFile("alexnet-owt-7be5be79.pth", "torchvision AlexNet ImageNet weights"),
    "vgg": WeightsFile("vgg16-397923af.pth", "torchvision VGG-16 ImageNet weights"),
    "inception": WeightsFile("pt_inception-2015-12-05-6726825d.pth",
                             "pytorch-fid's FID Inception-v3 weights"),
}
LPIPS_HEADS = {
    net: WeightsFile(f"lpips-v0.1-{net}.pth", f"LPIPS v0.1 linear layers ({net})",
                     "lpips", f"weights/v0.1/{net}.pth")
    for net in ("alex", "vgg")
}
DISTS_HEAD = WeightsFile("dists-weights.pt", "DISTS α/β weights", "DISTS_pytorch", "weights.pt")


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, computed as torch does (without importing torch)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def search_folders() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(WEIGHTS_ENV, "").split(os.pathsep) if p]
    return [*extra, torch_hub_checkpoints()]


def _package_file(weights: WeightsFile) -> Path | None:
    if not weights.package:
        return None
    try:
        spec = importlib.util.find_spec(weights.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / weights.package_path
        if candidate.is_file():
            return candidate
    return None


def find(weights: WeightsFile) -> Path | None:
    """The file, or ``None`` (see the module doc for the order)."""
    for folder in search_folders():
        candidate = folder / weights.name
        if candidate.is_file():
            return candidate
    return _package_file(weights)


def missing_reason(files: list[WeightsFile]) -> str:
    """Why a metric needing ``files`` is unavailable ("" when every file is found)."""
    missing = [f for f in files if find(f) is None]
    if not missing:
        return ""
    names = ", ".join(f"{f.name} ({f.what})" for f in missing)
    return (f"pretrained weights not found: {names}; put them in ${WEIGHTS_ENV} or "
            f"{torch_hub_checkpoints()}")


def require(weights: WeightsFile) -> Path:
    path = find(weights)
    if path is None:
        raise FileNotFoundError(missing_reason([weights]))
    return path
