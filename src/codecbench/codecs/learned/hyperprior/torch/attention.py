"""Bao et al. 2022 in PyTorch: hybrid-domain attention, inverse quantisation, post-filter,
Gaussian-scale mixture (imports torch).

Y. Bao, F. Meng, C. Li, S. Ma, Y. Tian, Y. Liang, "Image compression method based on a
hybrid domain attention mechanism and postprocessing improvement", Computational
Intelligence and Neuroscience 2022. The network is read off the plan of
:func:`codecbench.codecs.learned.hyperprior.layers.attention_plan`, which states it; this
module gives each plan step its torch module and the model its two behaviours beyond
CompressAI's ``MeanScaleHyperprior``:

* the **Gaussian-scale mixture** :class:`GaussianScaleMixtureConditional` (a CompressAI
  ``GaussianConditional`` whose standardised CDF is ``Σ_k w_k Φ(t / c_k)``, so CompressAI's
  likelihood, table building and rANS coding apply unchanged);
* **mixed quantisation** in training (the paper's remedy for quantisation noise, with
  Minnen & Singh 2020's straight-through estimator): the rate is measured on the noisy
  ``ỹ = y + u`` and the decoder (its inverse-quantisation module first) sees
  ``ŷ = round(y − μ) + μ`` with the identity gradient, exactly what it decodes from a file.
"""

from __future__ import annotations

import math

import torch
from compressai.entropy_models import GaussianConditional
from compressai.models import MeanScaleHyperprior
from compressai.ops import quantize_ste
from torch import nn

from codecbench.codecs.learned.hyperprior import layers
from codecbench.codecs.learned.hyperprior.torch.modules import module_of


def gsm_shape(logits: torch.Tensor, log_ratios: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w, c)``: the mixture weights ``softmax(a)`` and bounded scale ratios."""
    bound = math.log(layers.GSM_RATIO_BOUND)
    return torch.softmax(logits, 0), torch.exp(log_ratios.clamp(-bound, bound))


class GaussianScaleMixtureConditional(GaussianConditional):
    """CompressAI's Gaussian conditional with the standardised CDF of a Gaussian-scale
    mixture, ``F(t) = Σ_k w_k Φ(t / c_k)`` (the plan's
    :class:`~codecbench.codecs.learned.hyperprior.layers.GaussianScaleMixture`).

    The coding tables (CompressAI's ``update``) reach the mixture's ``10⁻⁹`` tails: for
    ``t < 0``, ``F(t) ≤ Φ(t / c_max)``, so the widest component's quantile bounds them.
    They depend on the learned ``w`` and ``c``: ``weights.load_model`` loads those before it
    builds the tables.
    """

    def __init__(self, components: int = 3, **kwargs):
        super().__init__(None, **kwargs)
        if components != len(layers.GSM_INITIAL_RATIOS):
            raise ValueError(f"a mixture of {len(layers.GSM_INITIAL_RATIOS)} components is "
                             f"supported, not {components}")
        self.mixture_logits = nn.Parameter(torch.zeros(components))
        self.log_ratios = nn.Parameter(torch.log(torch.tensor(layers.GSM_INITIAL_RATIOS)))

    def _standardized_cumulative(self, inputs: torch.Tensor) -> torch.Tensor:
        weights, ratios = gsm_shape(self.mixture_logits, self.log_ratios)
        scaled = inputs.unsqueeze(-1) / ratios
        return (0.5 * torch.erfc(-(2 ** -0.5) * scaled) * weights).sum(-1)

    def _standardized_quantile(self, quantile):  # CompressAI calls it on the instance
        import scipy.stats

        _, ratios = gsm_shape(self.mixture_logits.detach(), self.log_ratios.detach())
        return float(ratios.max()) * float(scipy.stats.norm.ppf(quantile))

    def update(self):
        with torch.no_grad():
            return super().update()


class AttentionHyperprior(MeanScaleHyperprior):
    """Bao et al. 2022: a mean-scale hyperprior (CompressAI's ``compress``/``decompress``)
    whose transforms are the attention plan's and whose conditional is the mixture."""

    def __init__(self, N: int, M: int, **kwargs):
        super().__init__(N=N, M=M, **kwargs)
        plan = layers.attention_plan(N, M)
        for name, steps in plan.transforms.items():
            setattr(self, name, nn.Sequential(*(module_of(step) for step in steps)))
        assert isinstance(plan.conditional, layers.GaussianScaleMixture)
        self.gaussian_conditional = GaussianScaleMixtureConditional(plan.conditional.components)

    def forward(self, x: torch.Tensor) -> dict:
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self.h_s(z_hat).chunk(2, 1)
        _, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        y_hat = quantize_ste(y - means) + means
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}
