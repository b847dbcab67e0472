"""What the torch codecs and metrics need of PyTorch: availability, versions, data-only loading.

Nothing here imports torch at module level; :func:`torch_load` imports it when called.
"""

from __future__ import annotations

import re
from pathlib import Path

from codecbench.frameworks.files import WeightsFileError, error_detail
from codecbench.frameworks.runtime import FrameworkRuntime


class TorchFramework(FrameworkRuntime):
    """Mixin of the torch codecs: framework name, install hint, required modules, versions."""

    framework = "torch"
    install_hint = "pip install 'codecbench[torch]'"
    coder_library = "compressai"
    required_modules = ("torch", "compressai", "safetensors")

    def library_versions(self) -> dict[str, str]:
        import compressai
        import torch

        return {"torch": torch.__version__, "compressai": compressai.__version__}


def torch_load(path: Path, map_location="cpu"):
    """``torch.load`` of ``path`` as data only (``weights_only=True``: tensors and plain
    values). A corrupt file, or one holding other pickled objects (whose loading could
    run code, so it is never attempted), raises :class:`WeightsFileError`."""
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it does not expect
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways on a bad file
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if isinstance(exc, pickle.UnpicklingError) and found:
            raise WeightsFileError(
                f"{path} was refused: it holds a pickled {found.group(1)} object, not only "
                "tensors and plain values, and codecbench never loads a file whose loading "
                "could run code"
            ) from None
        raise WeightsFileError(f"{path} is not a readable torch file (corrupt, truncated, or "
                               f"not written by torch.save; {error_detail(exc)})") from None
