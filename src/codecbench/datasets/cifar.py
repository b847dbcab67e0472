"""CIFAR-10 python batches, decoded without executing pickled code.

The batches are Python pickles of ``{b"data": uint8 array (N, 3072), b"labels": [...],
...}``. :class:`SafeUnpickler` resolves only the few globals a NumPy array needs
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, and the pure
``_codecs.encode`` that Python 3 protocol-2 pickles use for bytes); any other
global — the way a malicious pickle runs code — raises :class:`UnsafePickleError`.
Each row is 1024 red, then 1024 green, then 1024 blue values of a 32×32 image, row-major.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes; pure
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global that is not part of a plain NumPy array."""


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(f"refusing to load global {module}.{name} from a CIFAR batch")


def load_batch(path: Path) -> np.ndarray:
    """The images of one batch file as ``(N, 32, 32, 3)`` uint8 RGB."""
    import numpy as np

    batch = SafeUnpickler(io.BytesIO(Path(path).read_bytes()), encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch (no b'data' entry)")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: data has shape {data.shape}, expected (N, 3072)")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
