"""What every torch codec says about its framework (no torch import)."""

from __future__ import annotations

import importlib.util


class TorchFramework:
    """Mixin of the torch codecs: framework name, install hint, required modules, versions."""

    framework = "torch"
    install_hint = "pip install 'codecbench[torch]'"
    coder_library = "compressai"

    def missing_modules(self) -> list[str]:
        return [name for name in ("torch", "compressai", "safetensors")
                if importlib.util.find_spec(name) is None]

    def library_versions(self) -> dict[str, str]:
        import compressai
        import torch

        return {"torch": torch.__version__, "compressai": compressai.__version__}
