"""Perceptual metric plugins: ``lpips-alex``, ``lpips-vgg`` and ``dists``.

Distances on pretrained networks (formulas in :mod:`codecbench.metrics.torch.networks`):
LPIPS (Zhang et al. 2018, v0.1, AlexNet or VGG-16 trunk) and DISTS (Ding et al. 2020).
Lower is better; 0 for identical images. Computed in float32 on the CPU (or on
``CODECBENCH_TORCH_DEVICE``) on the whole image, inputs in [0, 1].

The pretrained weights cannot be downloaded here and are not ours to ship: they are
looked up as :mod:`.perceptual_weights` describes, and a metric whose files are absent
is listed as unavailable with the file names — never computed on other weights. This
module imports neither torch nor the networks until a value is computed.
"""

from __future__ import annotations

import abc
import math

from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import Measurement, Metric
from codecbench.metrics import perceptual_weights as pw


def weights_availability(files: list[pw.WeightsFile]) -> tuple[bool, str]:
    """Available when torch is installed and every pretrained file is found."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False, "needs torch and torchvision (pip install 'codecbench[torch]')"
    reason = pw.missing_reason(files)
    return (not reason), reason


class NetworkDistance(Metric):
    """A distance computed by a torch network on the pair of images."""

    higher_is_better = False
    unit = ""
    valid_range = (0.0, math.inf)
    rd_axis = True
    files: list[pw.WeightsFile] = []

    def availability(self) -> tuple[bool, str]:
        return weights_availability(self.files)

    @abc.abstractmethod
    def _network(self):
        """The torch module ``(x, y) → distance`` (loaded once per process)."""

    def compute(self, measurement: Measurement) -> float:
        from codecbench.metrics.torch.networks import distance

        # a distance is ≥ 0; float32 rounding of DISTS' 1 − Σ… gives −1e-7 on identical images
        return max(0.0, distance(self._network(), measurement.reference,
                                 measurement.reconstruction))


class LPIPSMetric(NetworkDistance):
    def __init__(self, net: str):
        self.net = net
        self.name = f"lpips-{net}"
        trunk = {"alex": "AlexNet", "vgg": "VGG-16"}[net]
        self.description = (f"LPIPS v0.1 (Zhang et al. 2018), {trunk} trunk: Σ_l mean w_l·"
                            "(f̂_l(x) − f̂_l(y))² of unit-normalised features")
        self.files = [pw.BACKBONES[net], pw.LPIPS_HEADS[net]]

    def _network(self):
        from codecbench.metrics.torch.networks import lpips_network

        return lpips_network(self.net)


class DISTSMetric(NetworkDistance):
    name = "dists"
    description = ("DISTS (Ding et al. 2020): 1 − Σ α·S_structure + β·S_texture over VGG-16 "
                   "(L2-pooled) feature means and covariances")
    files = [pw.BACKBONES["vgg"], pw.DISTS_HEAD]

    def _network(self):
        from codecbench.metrics.torch.networks import dists_network

        return dists_network()


@hookimpl
def register_metrics(register):
    register(LPIPSMetric("alex"))
    register(LPIPSMetric("vgg"))
    register(DISTSMetric())
