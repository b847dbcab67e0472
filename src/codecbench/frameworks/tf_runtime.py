"""What the TensorFlow codecs need of TensorFlow: availability and versions (no tensorflow
import at module level)."""

from __future__ import annotations

from codecbench.frameworks.runtime import FrameworkRuntime


class TensorFlowFramework(FrameworkRuntime):
    """Mixin of the TF codecs: framework name, install hint, required modules, versions."""

    framework = "tensorflow"
    install_hint = "pip install 'codecbench[tf]'"
    coder_library = "tensorflow-compression"
    required_modules = ("tensorflow", "tensorflow_compression", "safetensors")

    def library_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        import tensorflow as tf

        return {"tensorflow": tf.__version__,
                "tensorflow-compression": version("tensorflow-compression")}
