"""``tf/johnston2018-adaptive``: spatially adaptive bit rates on the TF priming codec.

The stop-map codec of :mod:`codecbench.codecs.learned.recurrent.adaptive` running the
network of ``tf/johnston2018-priming``
(:class:`~codecbench.codecs.learned.recurrent.tf.codecs.TFRecurrentCodec`: its TF weights,
else the torch weights converted at load time), its codes and stop map range coded with
tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`). Imports
tensorflow only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.codecs.learned.models import AdaptiveRecurrentModel
from codecbench.codecs.learned.recurrent.adaptive import AdaptiveRecurrentCodec
from codecbench.codecs.learned.recurrent.tf.codecs import TFRecurrentCodec
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFAdaptiveCodec(TensorFlowFramework, AdaptiveRecurrentCodec):
    """A spatially adaptive recurrent codec of the table, in TensorFlow."""

    coder = RangeIndexCoder()

    def __init__(self, entry: AdaptiveRecurrentModel, fixed: TFRecurrentCodec):
        super().__init__(entry, fixed)

    def _context(self):
        import tensorflow as tf

        return tf.device("/CPU:0")

    def _tensor(self, array: np.ndarray):
        import numpy as np
        import tensorflow as tf

        return tf.constant(np.asarray(array, dtype=np.float32))

    def _array(self, tensor) -> np.ndarray:
        return tensor.numpy()
