"""``tf/minnen2017-tiled``: the TensorFlow twin of ``torch/minnen2017-tiled``.

The networks of :mod:`.network` on the torch weights, converted at load time (or a
``codecbench convert torch/minnen2017-tiled tf/minnen2017-tiled`` output,
``minnen2017-tiled.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``), in the tiled codec of
:mod:`codecbench.codecs.learned.tiled.codec`; counts and bits are range coded with
tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`) with the same
16-bit frequencies as the torch codec's rANS. Imports tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import write_tf_weights
from codecbench.codecs.learned.tiled import weights as tiled_weights
from codecbench.codecs.learned.tiled.codec import TiledCodec
from codecbench.frameworks.tf_runtime import TensorFlowFramework


class TFTiledCodec(TensorFlowFramework, TiledCodec):
    """The tiled codec in TensorFlow on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.tiled.tf.network import TiledNetwork

        contents = tiled_weights.read_tiled(path, self.entry)
        arrays = (contents.arrays if weights_locator.is_tf_layout(path)
                  else convert_state(contents.arrays))
        return TiledNetwork(self.entry, arrays, contents.widths), contents

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        import numpy as np

        path = self.torch_twin_weights(source, quality)
        contents = tiled_weights.read_tiled(path, self.entry)
        arrays = {**convert_state(contents.arrays),
                  tiled_weights.BITS_KEY: contents.bit_table.astype(np.float32),
                  tiled_weights.COUNTS_KEY: contents.count_table.astype(np.float32)}
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        write_tf_weights(arrays, contents.metadata, target, source=path)
        return target


def codecs() -> list[TFTiledCodec]:
    """The family's TensorFlow twin, one per tiled model of the table."""
    from codecbench.codecs.learned.models import TILED_MODELS

    return [TFTiledCodec(entry) for entry in TILED_MODELS.values()]
