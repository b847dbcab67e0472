"""The one table of learned-model configurations.

Each entry names an architecture, its channel counts ``N`` (transform width) and ``M``
(latent channels), and the Lagrange multiplier λ of every rate point. The codecs, the
``codecbench train`` command and the model cards all read this table; nothing else
states these numbers. Framework-free (no torch, no tensorflow): ``codecbench list``
reads it.

Training minimises the rate–distortion Lagrangian of Ballé et al. (2017)::

    L = λ · 255² · MSE(x, x̂) + R,    R = Σ −log2 p(ŷ) / (H · W)   [bits per pixel]

(or ``λ · (1 − MS-SSIM) + R``), so a larger λ gives a higher rate and quality.
The λ values are CompressAI's MSE ladder (0.0018 … 0.18) thinned to five points that
span about 0.1–1.5 bpp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LAMBDAS_MSE = (0.0018, 0.0050, 0.0130, 0.0350, 0.0932)
"""λ of rate points 1–5 (MSE training), lowest rate first."""


@dataclass(frozen=True)
class LearnedModel:
    """One learned architecture.

    Attributes:
        slug: the paper key, e.g. ``bmshj2018-hyperprior``; codec names are
            ``<framework>/<slug>``.
        prior: the entropy model: ``factorized``, ``hyperprior``, ``mean-scale`` or
            ``autoregressive`` (what the codec's encode/decode pipeline must do).
        compressai_class: the CompressAI model class implementing the architecture.
        N, M: channel counts of the shipped (small) configuration.
        lambdas: λ per rate point; rate point ``q`` (1-based) uses ``lambdas[q - 1]``.
        paper: the citation.
        summary: one line for ``codecbench list``.
        slow: serial decoding (autoregressive context model): excluded from the default run.
    """

    slug: str
    prior: str
    compressai_class: str
    N: int
    M: int
    paper: str
    summary: str
    lambdas: tuple[float, ...] = LAMBDAS_MSE
    slow: bool = False
    padding_multiple: int = 64
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, len(self.lambdas) + 1)))

    def lambda_of(self, quality: int) -> float:
        """λ of rate point ``quality`` (1-based)."""
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities))
            raise ValueError(f"{self.slug} has no rate point {quality!r}; valid: {valid}")
        return self.lambdas[quality - 1]


LEARNED_MODELS: dict[str, LearnedModel] = {
    model.slug: model
    for model in (
        LearnedModel(
            slug="bls2017-factorized",
            prior="factorized",
            compressai_class="FactorizedPrior",
            N=64,
            M=96,
            paper="J. Ballé, V. Laparra, E. P. Simoncelli, 'End-to-end optimized image "
            "compression', ICLR 2017",
            summary="Ballé 2017: GDN transform, factorized prior",
        ),
        LearnedModel(
            slug="bmshj2018-hyperprior",
            prior="hyperprior",
            compressai_class="ScaleHyperprior",
            N=64,
            M=96,
            paper="J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston, 'Variational "
            "image compression with a scale hyperprior', ICLR 2018",
            summary="Ballé 2018: GDN transform, scale hyperprior",
        ),
        LearnedModel(
            slug="mbt2018-mean",
            prior="mean-scale",
            compressai_class="MeanScaleHyperprior",
            N=64,
            M=96,
            paper="D. Minnen, J. Ballé, G. Toderici, 'Joint autoregressive and hierarchical "
            "priors for learned image compression', NeurIPS 2018 (mean-scale hyperprior)",
            summary="Minnen 2018: mean-scale hyperprior",
        ),
        LearnedModel(
            slug="mbt2018",
            prior="autoregressive",
            compressai_class="JointAutoregressiveHierarchicalPriors",
            N=64,
            M=96,
            paper="D. Minnen, J. Ballé, G. Toderici, 'Joint autoregressive and hierarchical "
            "priors for learned image compression', NeurIPS 2018",
            summary="Minnen 2018: joint autoregressive + hierarchical prior (serial decoding)",
            slow=True,
        ),
    )
}


def learned_model(slug: str) -> LearnedModel:
    """The table entry of ``slug``, with a clear error naming the valid ones."""
    try:
        return LEARNED_MODELS[slug]
    except KeyError:
        valid = ", ".join(LEARNED_MODELS)
        raise ValueError(f"unknown learned model {slug!r}; valid: {valid}") from None


COMPRESSAI_ZOO: dict[str, tuple[str, tuple[int, ...]]] = {
    "bmshj2018-factorized": ("factorized", tuple(range(1, 9))),
    "bmshj2018-factorized-relu": ("factorized", tuple(range(1, 9))),
    "bmshj2018-hyperprior": ("hyperprior", tuple(range(1, 9))),
    "mbt2018-mean": ("mean-scale", tuple(range(1, 9))),
    "mbt2018": ("autoregressive", tuple(range(1, 9))),
    "cheng2020-anchor": ("autoregressive", tuple(range(1, 7))),
    "cheng2020-attn": ("autoregressive", tuple(range(1, 7))),
}
"""CompressAI's fixed-rate image zoo (``compressai.zoo.image_models``): the prior of each
architecture and its quality indices, listed here so that ``codecbench list`` works
without loading torch. (The zoo's variable-rate ``*-vbr`` models take a λ, not a quality index,
and are not adapted.)"""
