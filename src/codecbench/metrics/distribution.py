"""Set metrics ``fid`` and ``kid``: distances between the distributions of the original and
the reconstructed images, on 256×256 patches as in HiFiC (Mentzer et al. 2020).

Each image is cut into non-overlapping 256×256 patches, plus a second grid shifted by
128 px in both directions (HiFiC, §4.1); each patch is mapped to the 2048-d pool3 features
of FID's Inception-v3 (:mod:`codecbench.metrics.torch.inception`). For a codec at one
quality on one dataset, with ``X`` the features of every original patch and ``Y`` those of
the reconstructions:

* **FID** (Heusel et al. 2017): ``‖μ_X − μ_Y‖² + Tr(Σ_X + Σ_Y − 2 (Σ_X Σ_Y)^{1/2})`` with
  the sample covariances (``n − 1``). ``Tr((Σ_X Σ_Y)^{1/2})`` is computed as
  ``Σ √λ_i`` over the eigenvalues of the symmetric ``Σ_X^{1/2} Σ_Y Σ_X^{1/2}`` (the same
  number, without a non-symmetric matrix square root).
* **KID** (Bińkowski et al. 2018): the unbiased MMD² with the kernel
  ``k(a, b) = (aᵀb / d + 1)³``; with more than ``KID_SUBSET`` patches, the mean over
  ``KID_SUBSETS`` random subsets of that size (fixed seed), as the paper's code.

Both are biased on few patches (FID strongly so below a few thousand): compare codecs on
the same dataset, as HiFiC does. Images smaller than 256×256 have no patch and are
refused. The distances need only numpy; the features need torch and the weights
(unavailable otherwise, as the other perceptual metrics).
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import TYPE_CHECKING

from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import SetMetric
from codecbench.frameworks.devices import TORCH_DEVICE_ENV
from codecbench.metrics import perceptual_weights as pw
from codecbench.metrics.perceptual import weights_availability

if TYPE_CHECKING:
    import numpy as np

PATCH = 256
KID_SUBSET = 1000
KID_SUBSETS = 100


class ImageTooSmallForPatchesError(ValueError):
    """The image holds no 256×256 patch."""


def hific_patches(image: np.ndarray, size: int = PATCH) -> np.ndarray:
    """Every ``size``² patch of the grid at offset 0 and of the grid shifted by size/2."""
    import numpy as np

    height, width = image.shape[:2]
    patches = [image[top:top + size, left:left + size]
               for offset in (0, size // 2)
               for top in range(offset, height - size + 1, size)
               for left in range(offset, width - size + 1, size)]
    if not patches:
        raise ImageTooSmallForPatchesError(
            f"image of {width}×{height} px holds no {size}×{size} patch")
    return np.stack(patches)


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """FID between feature sets ``x`` and ``y`` (rows are samples); see the module doc."""
    import numpy as np

    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    sigma_x, sigma_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    values, vectors = np.linalg.eigh(sigma_x)
    root_x = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_x @ sigma_y @ root_x)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(sigma_x) + np.trace(sigma_y)
                 - 2 * trace_root)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    import numpy as np

    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) - 2 * k_xy.mean())


def kernel_inception_distance(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """KID between feature sets ``x`` and ``y``; see the module doc."""
    import numpy as np

    if min(len(x), len(y)) < 2:
        raise ValueError("KID needs at least two patches on each side")
    if max(len(x), len(y)) <= KID_SUBSET:
        return _mmd2_unbiased(x, y)
    rng = np.random.default_rng(seed)
    size = min(KID_SUBSET, len(x), len(y))
    return float(np.mean([_mmd2_unbiased(x[rng.choice(len(x), size, replace=False)],
                                         y[rng.choice(len(y), size, replace=False)])
                          for _ in range(KID_SUBSETS)]))


@functools.lru_cache(maxsize=16)
def _cached_features(digest: str, shape: tuple, data: bytes, device: str) -> np.ndarray:
    import numpy as np

    from codecbench.metrics.torch.inception import inception_features

    image = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    return inception_features(hific_patches(image), device)


class InceptionSetMetric(SetMetric):
    """A set metric on FID-Inception features of HiFiC's 256×256 patches."""

    unit = ""
    higher_is_better = False
    valid_range = (-math.inf, math.inf)  # KID's unbiased estimate can be slightly negative
    rd_axis = True

    def availability(self) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec("pytorch_fid") is None:
            return False, "needs pytorch-fid (pip install 'codecbench[perceptual]')"
        return weights_availability([pw.BACKBONES["inception"]])

    def features(self, image: np.ndarray) -> np.ndarray:
        import os

        import numpy as np

        data = np.ascontiguousarray(image).tobytes()
        digest = hashlib.sha1(data).hexdigest()  # fid and kid share one image's features
        return _cached_features(digest, image.shape, data,
                                os.environ.get(TORCH_DEVICE_ENV, "cpu")).copy()


class FIDMetric(InceptionSetMetric):
    name = "fid"
    description = ("FID (Heusel et al. 2017) over the dataset's 256×256 patches (HiFiC): "
                   "‖μ_X − μ_Y‖² + Tr(Σ_X + Σ_Y − 2(Σ_XΣ_Y)^½) of Inception pool3 features")

    def distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        return frechet_distance(real, fake)


class KIDMetric(InceptionSetMetric):
    name = "kid"
    description = ("KID (Bińkowski et al. 2018) over the dataset's 256×256 patches: unbiased "
                   "MMD² with k(a, b) = (aᵀb/d + 1)³ of Inception pool3 features")

    def distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        return kernel_inception_distance(real, fake)


@hookimpl
def register_metrics(register):
    register(FIDMetric())
    register(KIDMetric())
