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

ADVERSARIAL_LOSSES = ("non-saturating", "least-squares")
DISCRIMINATORS = ("conditional", "multiscale")


@dataclass(frozen=True)
class Adversarial:
    """How a GAN-family model is trained: its discriminator and the generator's extra terms.

    The generator (the codec's decoder, and through it the encoder) minimises::

        L_G = R + λ · (255² · MSE + k_P · P) + β · L_adv + k_FM · FM

    and the discriminator ``D`` its own loss, alternately, one step each:

    * ``non-saturating`` (Goodfellow et al. 2014, as HiFiC):
      ``L_D = softplus(−D(x)) + softplus(D(x̂))``, ``L_adv = softplus(−D(x̂))``;
    * ``least-squares`` (LSGAN, Mao et al. 2017, as Agustsson et al. 2019):
      ``L_D = (D(x) − 1)² + D(x̂)²``, ``L_adv = (D(x̂) − 1)²``;

    averaged over D's output map (and over scales of a multi-scale D). ``P`` is the
    perceptual distance (LPIPS when its backbone weights are present, else
    ``1 − MS-SSIM``; the run records which), ``FM`` the L1 distance between D's
    intermediate features of ``x`` and ``x̂`` (pix2pixHD's feature matching).

    Attributes:
        discriminator: ``conditional`` (HiFiC: D sees the image and the upsampled
            quantised latent) or ``multiscale`` (three PatchGANs at 1, ½, ¼ scale).
        loss: one of :data:`ADVERSARIAL_LOSSES`.
        weight: β.
        perceptual_weight: k_P.
        feature_matching: k_FM.
        warmup: fraction of the steps trained without ``L_adv`` and without updating D
            (HiFiC first trains the rate–distortion model, then adds the GAN).
        widths: channels of D's strided 4×4 convolutions.
    """

    discriminator: str
    loss: str
    weight: float
    perceptual_weight: float = 0.0
    feature_matching: float = 0.0
    warmup: float = 0.5
    widths: tuple[int, ...] = (32, 64, 128, 256)

    def __post_init__(self):
        if self.loss not in ADVERSARIAL_LOSSES or self.discriminator not in DISCRIMINATORS:
            raise ValueError(f"unknown adversarial setting {self.loss!r}/{self.discriminator!r}")


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
        compressai_class: the CompressAI-style model class implementing the architecture
            (one of ``compressai.models``, or ours, e.g. ``AttentionHyperprior``; see
            ``hyperprior.torch.weights.OWN_CLASSES``).
        N, M: channel counts of the shipped (small) configuration.
        lambdas: λ per rate point; rate point ``q`` (1-based) uses ``lambdas[q - 1]``.
        paper: the citation.
        summary: one line for ``codecbench list``.
        default_run: the frameworks (``torch``, ``tensorflow``) whose codec of this model
            ``codecbench run`` includes without ``--codec``: the quick CNN models in torch,
            and one of them also in TensorFlow, so the default run shows classical, PyTorch
            and TensorFlow codecs side by side in a few minutes; serial (autoregressive)
            and GAN models are selected by name.
        family: the survey family (``cnn``; ``gan`` when trained adversarially).
        adversarial: the GAN training of the model (``None``: rate–distortion only).
        decoder_N: width of the synthesis transform when it differs from ``N`` (a
            distilled student decoder; ``0`` = ``N``).
        distilled_from: slug of the teacher whose decoder the student distils (OMGD).
        architecture: the transforms' plan, ``gdn`` (Ballé/Minnen) or ``attention``
            (Bao et al. 2022; :func:`~codecbench.codecs.learned.hyperprior.layers.prior_plan`).
    """

    slug: str
    prior: str
    compressai_class: str
    N: int
    M: int
    paper: str
    summary: str
    lambdas: tuple[float, ...] = LAMBDAS_MSE
    default_run: tuple[str, ...] = ("torch",)
    padding_multiple: int = 64
    family: str = "cnn"
    adversarial: Adversarial | None = None
    decoder_N: int = 0
    distilled_from: str = ""
    architecture: str = "gdn"
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, len(self.lambdas) + 1)))

    def lambda_of(self, quality: int) -> float:
        """λ of rate point ``quality`` (1-based)."""
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities))
            raise ValueError(f"{self.slug} has no rate point {quality!r}; valid: {valid}")
        return self.lambdas[quality - 1]


HIFIC_LAMBDAS = LAMBDAS_MSE[:3]
"""HiFiC's rate points: the three lowest λ of the MSE ladder (HiFiC targets low rates)."""

HIFIC_ADVERSARIAL = Adversarial(discriminator="conditional", loss="non-saturating",
                                weight=0.15, perceptual_weight=1000.0, warmup=0.5)
"""HiFiC's GAN terms (Mentzer et al. 2020: β = 0.15, k_P = 1 on LPIPS): with
``1 − MS-SSIM`` (≈ 0.05 at 30 dB) as P, k_P = 1000 makes P weigh about as much as
255²·MSE (≈ 65 at 30 dB), the balance k_M : k_P of the paper."""

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
            default_run=("torch", "tensorflow"),
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
            default_run=(),
        ),
        LearnedModel(
            slug="bao2022-attention",
            prior="mean-scale",
            compressai_class="AttentionHyperprior",
            N=64,
            M=96,
            paper="Y. Bao, F. Meng, C. Li, S. Ma, Y. Tian, Y. Liang, 'Image compression "
            "method based on a hybrid domain attention mechanism and postprocessing "
            "improvement', Computational Intelligence and Neuroscience 2022",
            summary="Bao 2022: hybrid-domain attention, Gaussian-scale mixture, inverse "
            "quantisation, post-filter",
            architecture="attention",
            default_run=(),
        ),
        LearnedModel(
            slug="hific",
            prior="mean-scale",
            compressai_class="MeanScaleHyperprior",
            N=64,
            M=96,
            lambdas=HIFIC_LAMBDAS,
            paper="F. Mentzer, G. Toderici, M. Tschannen, E. Agustsson, 'High-fidelity "
            "generative image compression', NeurIPS 2020",
            summary="HiFiC: mean-scale hyperprior + latent-conditioned GAN decoder",
            family="gan",
            adversarial=HIFIC_ADVERSARIAL,
            default_run=(),
        ),
        LearnedModel(
            slug="hific-omgd",
            prior="mean-scale",
            compressai_class="MeanScaleHyperprior",
            N=64,
            M=96,
            lambdas=HIFIC_LAMBDAS,
            paper="Y. Ren, J. Wu, X. Xiao, J. Yang, 'Online multi-granularity distillation "
            "for GAN compression', ICCV 2021 (applied to the HiFiC decoder)",
            summary="HiFiC encoder + OMGD-distilled narrow decoder (student of torch/hific)",
            family="gan",
            adversarial=HIFIC_ADVERSARIAL,
            decoder_N=32,
            distilled_from="hific",
            default_run=(),
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


RNN_BITS_PER_ITERATION_BPP = 0.125
"""Code bits of one iteration of the recurrent codecs before entropy coding: 32 bits per
16×16 block (Toderici et al. 2016, 2017), i.e. ``32 / 256 = 0.125`` bits per pixel."""


@dataclass(frozen=True)
class RecurrentModel:
    """One recurrent (progressive) architecture of the survey's RNN family.

    Each iteration ``t`` encodes the residual ``r_{t-1} = x − x̂_{t-1}`` into
    ``code_channels`` bits per 16×16 block (``x̂_0 = 0``); the file holds one code per
    iteration, so the rate point is the iteration count.

    Attributes:
        slug: the paper key, e.g. ``toderici2017-gru``; codec names are
            ``<framework>/<slug>``.
        cell: the recurrent unit of encoder and decoder, ``lstm`` or ``gru``.
        reconstruction: ``one-shot`` (the decoder outputs the whole image at every
            iteration, x̂_t = D(b_1..b_t)) or ``additive`` (x̂_t = x̂_{t-1} + D(b_t)).
        patch: ``32`` codes 32×32 patches independently (Toderici 2016); ``0`` codes the
            full image (Toderici 2017).
        entropy_coded: the codes are range coded with the learned binary context model
            (otherwise stored as raw bits, exactly 0.125 bpp per iteration and block).
        priming: extra hidden-state iterations before the first code and the first
            output (Johnston et al. 2018; ``0`` = none).
        loss: ``l1`` (Toderici: mean |r_t| over iterations) or ``ssim-weighted-l1``
            (Johnston 2018).
        encoder_widths: output channels of the encoder's conv and three recurrent layers
            (the papers: 64, 256, 512, 512; ours are small enough to train on a CPU).
        decoder_widths: hidden channels of the decoder's four recurrent layers (the
            papers: 512, 512, 256, 128).
        code_channels: bits per 16×16 block and iteration (32 in both Toderici papers).
        iterations: iterations trained (unrolled) and the highest rate point.
    """

    slug: str
    cell: str
    reconstruction: str
    patch: int
    entropy_coded: bool
    paper: str
    summary: str
    priming: int = 0
    loss: str = "l1"
    encoder_widths: tuple[int, int, int, int] = (16, 32, 64, 64)
    decoder_widths: tuple[int, int, int, int] = (64, 64, 32, 16)
    code_channels: int = 32
    iterations: int = 16
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, self.iterations + 1)))

    def bound_bpp(self, iterations: int) -> float:
        """Code bits per pixel of ``iterations`` before entropy coding (padding aside)."""
        return iterations * self.code_channels / 256


RECURRENT_MODELS: dict[str, RecurrentModel] = {
    model.slug: model
    for model in (
        RecurrentModel(
            slug="toderici2016-lstm",
            cell="lstm",
            reconstruction="one-shot",
            patch=32,
            entropy_coded=False,
            paper="G. Toderici, S. M. O'Malley, S. J. Hwang, D. Vincent, D. Minnen, S. Baluja, "
            "M. Covell, R. Sukthankar, 'Variable rate image compression with recurrent "
            "neural networks', ICLR 2016",
            summary="Toderici 2016: conv/deconv LSTM on 32×32 patches, raw binary codes",
        ),
        RecurrentModel(
            slug="toderici2017-gru",
            cell="gru",
            reconstruction="additive",
            patch=0,
            entropy_coded=True,
            paper="G. Toderici, D. Vincent, N. Johnston, S. J. Hwang, D. Minnen, J. Shor, "
            "M. Covell, 'Full resolution image compression with recurrent neural networks', "
            "CVPR 2017",
            summary="Toderici 2017: conv GRU on full images, additive, entropy-coded codes",
        ),
        RecurrentModel(
            slug="johnston2018-priming",
            cell="gru",
            reconstruction="additive",
            patch=0,
            entropy_coded=True,
            priming=2,
            loss="ssim-weighted-l1",
            paper="N. Johnston, D. Vincent, D. Minnen, M. Covell, S. Singh, T. Chinen, "
            "S. J. Hwang, J. Shor, G. Toderici, 'Improved lossy image compression with "
            "priming and spatially adaptive bit rates for recurrent networks', CVPR 2018",
            summary="Johnston 2018: conv GRU, hidden-state priming, SSIM-weighted L1",
        ),
    )
}


@dataclass(frozen=True)
class AdaptiveRecurrentModel:
    """Spatially adaptive bit allocation over a recurrent model (Johnston et al. 2018, §3.3).

    The encoder runs the iterations of :attr:`base`'s network (its weights, unchanged) and
    stops coding a code position (one 16×16 block) once every ``block × block`` pixel block
    in it reaches the rate point's PSNR target, or once an iteration gained less than
    ``min_gain_db``; the file carries the stop map (iterations coded per position). Rate
    point ``q`` is the target ``targets[q − 1]``.

    Attributes:
        slug: codec names are ``<framework>/<slug>``.
        base: slug of the :data:`RECURRENT_MODELS` entry whose network and weights file it
            runs (a full-image, entropy-coded model).
        targets: per-block PSNR targets in dB, increasing.
        block: side in pixels of the blocks whose PSNR is checked: 16, one code
            position (8 checks the four 8×8 blocks of a position, the paper's size).
        min_gain_db: a position also stops once an iteration raised its PSNR by less than
            this (our small network saturates after about 8 iterations; without this rule
            its bits would go to blocks that cannot reach the target).
    """

    slug: str
    base: str
    paper: str
    summary: str
    targets: tuple[float, ...]
    block: int = 16
    min_gain_db: float = 0.3
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, len(self.targets) + 1)))

    def target(self, quality: int) -> float:
        """The PSNR target (dB) of rate point ``quality``."""
        return self.targets[quality - 1]


ADAPTIVE_RECURRENT_MODELS: dict[str, AdaptiveRecurrentModel] = {
    model.slug: model
    for model in (
        AdaptiveRecurrentModel(
            slug="johnston2018-adaptive",
            base="johnston2018-priming",
            paper=RECURRENT_MODELS["johnston2018-priming"].paper,
            summary="Johnston 2018: priming network with spatially adaptive bit rates "
            "(per-block PSNR target, stop map in the file)",
            targets=(20.0, 22.0, 24.0, 26.0, 28.0, 32.0),
        ),
    )
}



GC_ADVERSARIAL = Adversarial(discriminator="multiscale", loss="least-squares", weight=1.0,
                             perceptual_weight=1000.0, feature_matching=10.0, warmup=0.25)
"""Agustsson et al. 2019 (after pix2pixHD): LSGAN with β = 1, multi-scale D, feature
matching ×10; our distortion weight and perceptual term as HiFiC's (see
:data:`HIFIC_ADVERSARIAL`); a short warm-up (the paper trains the GAN from the start;
the warm-up keeps tiny models from collapsing)."""


@dataclass(frozen=True)
class GenerativeModel:
    """A generative compression network with a quantised bottleneck and no prior (GC).

    Agustsson et al. (2019), global generative compression: encoder ``E`` (7×7
    convolution, four stride-2 3×3 convolutions with instance norm and ReLU, a 3×3
    convolution to ``C`` channels: 1/16 of the resolution), quantiser ``q`` onto ``L``
    fixed centres ``{−2, −1, 0, 1, 2}`` (soft-to-hard: the forward pass uses the nearest
    centre, the gradient flows through ``Σ_ℓ softmax(−σ‖y − c_ℓ‖²) c_ℓ``), generator
    ``G`` (3×3 convolution, residual blocks, four ×2 upsamplings, 7×7 convolution to RGB,
    ``tanh``). The rate point is ``C``: the symbols' rate is at most
    ``C·log2(L)/256`` bpp; entropy coding (:mod:`codecbench.codecs.learned.entropy.categorical_codes`)
    makes it lower. Training minimises ``λ·(255²·MSE + k_P·P) + β·L_adv + k_FM·FM``
    (:class:`Adversarial`; no rate term — ``C`` fixes it).

    Attributes:
        slug, paper, summary: as :class:`LearnedModel`.
        channels: ``C`` per rate point (rate point ``q`` uses ``channels[q − 1]``).
        centres: ``L``.
        widths: encoder widths at resolutions 1, ½, ¼, ⅛, 1/16 (the paper: 60, 120, 240,
            480, 960); the generator mirrors them.
        residual_blocks: in the generator (the paper: 9).
        lmbda: λ (0.002: distortion about twice the adversarial terms at 20 dB, the
            balance of HiFiC's weights; the paper's λ = 10 on MSE of [0, 1] images,
            i.e. λ ≈ 1.5·10⁻⁴ here, leaves our small, briefly trained generators
            unanchored).
        adversarial: the GAN terms.
    """

    slug: str
    paper: str
    summary: str
    channels: tuple[int, ...] = (2, 4, 8)
    centres: int = 5
    widths: tuple[int, int, int, int, int] = (16, 32, 64, 128, 128)
    residual_blocks: int = 4
    lmbda: float = 0.002
    adversarial: Adversarial = GC_ADVERSARIAL
    padding_multiple: int = 16
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, len(self.channels) + 1)))

    def channels_of(self, quality: int) -> int:
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities))
            raise ValueError(f"{self.slug} has no rate point {quality!r}; valid: {valid}")
        return self.channels[quality - 1]

    def bound_bpp(self, quality: int) -> float:
        """``C·log2(L)/256``: the paper's rate without entropy coding."""
        import math

        return self.channels_of(quality) * math.log2(self.centres) / 256


GENERATIVE_MODELS: dict[str, GenerativeModel] = {
    model.slug: model
    for model in (
        GenerativeModel(
            slug="agustsson2019-gc",
            paper="E. Agustsson, M. Tschannen, F. Mentzer, R. Timofte, L. Van Gool, "
            "'Generative adversarial networks for extreme learned image compression', "
            "ICCV 2019 (global generative compression)",
            summary="Agustsson 2019 GC: L=5 quantised bottleneck, residual generator, "
            "multi-scale LSGAN",
        ),
    )
}


WAVEONE_ADVERSARIAL = Adversarial(discriminator="multiscale", loss="least-squares",
                                  weight=0.1, perceptual_weight=1000.0, warmup=0.5)
"""WaveOne's multiscale adversarial training (Rippel & Bourdev 2017 §3.3), as LSGAN on the
pix2pixHD discriminator; the reconstruction terms dominate (β = 0.1)."""


@dataclass(frozen=True)
class WaveOneModel:
    """Rippel & Bourdev (2017), "Real-time adaptive image compression" (WaveOne).

    * **Pyramidal analysis**: the image at ``scales`` resolutions (2×2 average pooling
      between them); at each, two 3×3 convolutions extract ``width`` feature maps;
      **interscale alignment** maps each scale's features to the common 1/8 resolution
      with a strided convolution (stride 8, 4, 2) and sums them; a 3×3 convolution and
      a sigmoid give ``C`` maps ``y ∈ (0, 1)``.
    * **Bitplane decomposition**: ``q = ⌊2^B · y⌋`` (``B`` bits, straight-through
      gradient), split into ``B`` binary planes, most significant first. The file holds
      the first ``k`` planes (``k`` = the rate point, progressive: a truncated file is
      the file of fewer planes); decoding fills the missing low bits with the middle of
      their interval.
    * **Adaptive arithmetic coding**: each bit is range coded with the binary context
      model of :mod:`codecbench.codecs.learned.entropy.binary_codes` (plane, channel, the more
      significant plane's bit at the position and its 8 neighbours), learned by
      counting at export.
    * **Adaptive codelength regularisation**: the loss adds ``α_t · R(y)``, ``R`` the
      paper's sparsity term ``mean(log2(y + ε)) + Σ_{s∈S} mean(log2(|y − y_s| + ε))``
      over the shifts ``S = {(0,1), (1,0), (1,1), (−1,1)}``, and ``α_t`` is multiplied by
      ``1 ± 0.01`` each step as the batch's significant-bit count is above or below
      ``target_bpp``.
    * **Multiscale adversarial training** (:data:`WAVEONE_ADVERSARIAL`).
    * Synthesis: a 3×3 convolution, three ×2 (conv + pixel shuffle) upsamplings, a 3×3
      convolution to RGB and a sigmoid.

    Simplified against the paper (documented in docs/gan-codecs.md): one network for
    every rate point (bitplane truncation, trained on random plane counts) instead of
    one per target codelength; a static learned context table instead of the paper's
    adaptive one; the interscale alignment is a sum of strided convolutions (no
    learned per-scale weighting).
    """

    slug: str
    paper: str
    summary: str
    scales: int = 3
    width: int = 48
    code_channels: int = 16
    bitplanes: int = 6
    target_bpp: float = 0.5
    lmbda: float = 0.01
    adversarial: Adversarial = WAVEONE_ADVERSARIAL
    padding_multiple: int = 8
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, self.bitplanes + 1)))


WAVEONE_MODELS: dict[str, WaveOneModel] = {
    model.slug: model
    for model in (
        WaveOneModel(
            slug="rippel2017-waveone",
            paper="O. Rippel, L. Bourdev, 'Real-time adaptive image compression', ICML 2017",
            summary="WaveOne: pyramidal analysis, bitplanes with adaptive context coding, "
            "codelength regularisation, multiscale GAN",
        ),
    )
}


@dataclass(frozen=True)
class TiledModel:
    """Minnen et al. (2017), "Spatially adaptive image compression using a tiled deep
    network" (ICIP 2017).

    The image is cut into ``tile × tile`` tiles coded in raster order. Each tile is first
    **predicted** from its decoded neighbours (left, above-left, above, above-right; a
    missing one is zero) by a convolutional context network, ``p = P(context)``; the
    **residual** ``x − p`` is then coded by an iterative residual coder, iteration ``t``
    turning the remaining residual ``r_{t−1}`` into ``code_channels`` bits per 8×8 block
    and ``x̂_t = x̂_{t−1} + D(b_t)`` (``x̂_0 = p``). The encoder gives each tile the fewest
    iterations ``k ∈ {0 … cap}`` whose tile PSNR reaches the rate point's target
    (``targets_db``; ``caps`` bounds ``k`` per rate point): one network serves every rate
    point, the per-tile iteration counts are side information.

    Attributes:
        tile: the tile side in pixels (32 in the paper).
        code_channels: bits per 8×8 block and iteration (a 32×32 tile codes
            ``16 · code_channels`` bits per iteration).
        iterations: the most iterations a tile can take (the coder's trained depth).
        targets_db: the PSNR target of each rate point (lowest first).
        caps: the most iterations per tile of each rate point (increasing, so each rate
            point's files hold a distinct number of iteration latents).
        predictor_width, coder_width: features of the context network and of the
            residual coder (ours are small enough to train on a CPU).
        context_dropout: in training, the probability that each neighbour is treated as
            missing (as at the image's top, left and right borders).
    """

    slug: str
    paper: str
    summary: str
    tile: int = 32
    code_channels: int = 8
    iterations: int = 8
    targets_db: tuple[float, ...] = (24.0, 26.0, 28.0, 30.0, 32.0)
    caps: tuple[int, ...] = (4, 5, 6, 7, 8)
    predictor_width: int = 32
    coder_width: int = 64
    context_dropout: float = 0.2
    family: str = "cnn"
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        if len(self.caps) != len(self.targets_db) or max(self.caps) > self.iterations:
            raise ValueError(f"{self.slug}: one cap (≤ {self.iterations}) per target")
        object.__setattr__(self, "qualities", tuple(range(1, len(self.targets_db) + 1)))

    @property
    def padding_multiple(self) -> int:
        return self.tile

    def bits_per_iteration(self) -> int:
        """Code bits of one tile and iteration before entropy coding."""
        return self.code_channels * (self.tile // 8) ** 2


TILED_MODELS: dict[str, TiledModel] = {
    model.slug: model
    for model in (
        TiledModel(
            slug="minnen2017-tiled",
            paper="D. Minnen, G. Toderici, M. Covell, T. Chinen, N. Johnston, J. Shor, "
            "S. J. Hwang, D. Vincent, S. Singh, 'Spatially adaptive image compression "
            "using a tiled deep network', ICIP 2017",
            summary="Minnen 2017: 32×32 tiles, intra prediction from decoded neighbours, "
            "iterative residual codes, per-tile iterations for a target PSNR",
        ),
    )
}


@dataclass(frozen=True)
class ConditionalModel:
    """Mentzer et al. (2018), "Conditional probability models for deep image compression".

    * **Encoder** ``E``: 5×5 convolution stride 2 (``width/2``), 5×5 convolution stride 2
      (``width``), ``residual_blocks`` residual blocks (two 3×3 convolutions), 5×5
      convolution stride 2 to ``K + 1`` channels: 1/8 of the resolution; ``K`` channels
      are the latent ``z``, the last one, through a sigmoid, the importance map
      ``y ∈ (0, 1)``.
    * **Importance map**: rate point ``q`` keeps ``ℓ = ⌈K_q · y⌉`` channels at a position
      (``K_q`` = ``budgets[q − 1]``); the mask is ``m_k = 1[k < ℓ]`` (training:
      ``clip(K_q·y − k, 0, 1)`` backward, the hard mask forward).
    * **Quantiser**: ``L`` learned centres ``c``; forward the nearest centre, backward
      ``Σ_ℓ softmax(−σ‖z − c_ℓ‖²) c_ℓ``.
    * **Context model** ``P``: a 3-D CNN over the masked volume (channels as depth, 3×3
      spatial kernels, ``context_filters`` filters, ``context_layers`` layers) giving a
      categorical distribution over the ``L`` centres for every symbol; causal in depth
      (slice ``d`` sees slices ``< d`` and the importance map), so decoding runs it once
      per slice.
    * **Loss**: ``d(x, x̂) + β · max(H − H_t, 0)`` with ``H`` the context model's
      cross-entropy of the unmasked symbols in bits per pixel, ``d = 255² · MSE`` (or
      ``ms_ssim_weight · (1 − MS-SSIM)``) and ``H_t = target_bpp · K_q / K``; ``P``
      minimises ``H``.
    * **Decoder** ``D``: mirrors ``E`` (3×3 convolutions and ×2 pixel shuffles).

    One network for every rate point: training draws ``K_q`` from ``budgets`` each step.

    Attributes:
        width: encoder/decoder width at 1/4 resolution (the paper: 128).
        residual_blocks: in ``E`` and ``D`` each (the paper: 15).
        code_channels: ``K`` (the paper: 32).
        centres: ``L`` (the paper: 6).
        context_filters, context_layers: of ``P`` (the paper: 24, 4).
        budgets: ``K_q`` per rate point, increasing.
        target_bpp: ``H_t`` at the full budget ``K``.
        beta: ``β``.
        ms_ssim_weight: the distortion weight of ``--metric ms-ssim``.
        sigma: ``σ`` of the soft assignment.
    """

    slug: str
    paper: str
    summary: str
    width: int = 48
    residual_blocks: int = 2
    code_channels: int = 16
    centres: int = 6
    context_filters: int = 24
    context_layers: int = 4
    budgets: tuple[int, ...] = (2, 4, 6, 9, 12, 16)
    target_bpp: float = 0.8
    beta: float = 100.0
    ms_ssim_weight: float = 1000.0
    sigma: float = 1.0
    padding_multiple: int = 8
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "qualities", tuple(range(1, len(self.budgets) + 1)))

    def budget_of(self, quality: int, channels: int | None = None) -> int:
        """``K_q`` of rate point ``quality``, scaled to a network of ``channels`` code
        channels (the table's ``K`` when ``None``; tiny test models)."""
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities))
            raise ValueError(f"{self.slug} has no rate point {quality!r}; valid: {valid}")
        budget = self.budgets[quality - 1]
        if channels is None or channels == self.code_channels:
            return budget
        return max(1, -(-budget * channels // self.code_channels))


CONDITIONAL_MODELS: dict[str, ConditionalModel] = {
    model.slug: model
    for model in (
        ConditionalModel(
            slug="mentzer2018-context",
            paper="F. Mentzer, E. Agustsson, M. Tschannen, R. Timofte, L. Van Gool, "
            "'Conditional probability models for deep image compression', CVPR 2018",
            summary="Mentzer 2018: learned centres, importance map, 3-D CNN context model",
        ),
    )
}


@dataclass(frozen=True)
class CodeSpaceModel:
    """Klopp, Wang, Chien, Chen (2018), "Learning a code-space predictor by exploiting
    intra-image dependencies" (BMVC 2018), one network for every rate point.

    * **Autoencoder**: analysis ``E`` (three stride-2 5×5 convolutions, ReLU) maps the
      image to ``y``, ``code_channels × H/8 × W/8``; synthesis ``D`` (three 3×3
      convolutions with ×2 pixel shuffles, ReLU) maps the decoded code back.
    * **Rate points by gain units** (Cui et al. 2021): rate point ``k`` has a gain
      vector ``g_k`` and an inverse gain ``g'_k`` (one value per channel, learned); the
      integer code is ``q = round(g_k ⊙ y)``, the decoder's code ``ŷ = g'_k ⊙ q``.
    * **Multiscale code-space predictor**: the code grid is split into ``levels + 1``
      nested sub-grids ``Q_l = q[:, ::2^l, ::2^l]``, coded coarsest first; the
      predictor ``P_l`` of level ``l`` sees the decoded coarser grid ``ŷ_{l+1}`` and
      predicts, at the positions of ``Q_l`` not in ``Q_{l+1}``, a mean ``μ`` and a
      Laplace scale ``σ`` (code-space units, multiplied by ``g_k`` into ``q``'s units).
      The coarsest grid has a per-channel learned mean and scale.
    * **Residual coding**: ``r = q − round(μ)`` is range coded with the discretised
      Laplace of scale ``σ`` centred at ``μ − round(μ)``, ``σ`` and the offset quantised
      to a fixed table (``scale_count`` scales from ``scale_bounds``, ``offset_count``
      offsets; residuals clipped to ``±residual_range``).
    * **Training**: ``L = λ_k · 255² · MSE + R`` with a random rate point per step,
      ``R = Σ −log2 P(q̃)`` of the noisy code ``q̃ = g_k ⊙ y + u``.

    Attributes:
        width: features of the analysis and synthesis (N).
        code_channels: channels of the code (M).
        predictor_width: features of each level's predictor.
        levels: predicted levels (the coarsest grid is at 1/2^levels of the code).
        lambdas: λ per rate point, lowest rate first.
        initial_gains: the gain of each rate point at initialisation.
        residual_range, scale_bounds, scale_count, offset_count: the coding tables.
    """

    slug: str
    paper: str
    summary: str
    width: int = 48
    code_channels: int = 32
    predictor_width: int = 48
    levels: int = 2
    lambdas: tuple[float, ...] = LAMBDAS_MSE
    initial_gains: tuple[float, ...] = (0.5, 0.8, 1.25, 2.0, 3.2)
    residual_range: int = 127
    scale_bounds: tuple[float, float] = (0.11, 64.0)
    scale_count: int = 64
    offset_count: int = 16
    padding_multiple: int = 8
    qualities: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        if len(self.initial_gains) != len(self.lambdas):
            raise ValueError(f"{self.slug}: one initial gain per λ")
        object.__setattr__(self, "qualities", tuple(range(1, len(self.lambdas) + 1)))

    def lambda_of(self, quality: int) -> float:
        """λ of rate point ``quality`` (1-based)."""
        if quality not in self.qualities:
            valid = ", ".join(map(str, self.qualities))
            raise ValueError(f"{self.slug} has no rate point {quality!r}; valid: {valid}")
        return self.lambdas[quality - 1]


CODESPACE_MODELS: dict[str, CodeSpaceModel] = {
    model.slug: model
    for model in (
        CodeSpaceModel(
            slug="klopp2018-codespace",
            paper="J. P. Klopp, Y.-C. F. Wang, S.-Y. Chien, L.-G. Chen, 'Learning a "
            "code-space predictor by exploiting intra-image dependencies', BMVC 2018",
            summary="Klopp 2018: autoencoder, multiscale code-space predictor, residual "
            "coded with a predicted Laplace (gain units: one network for every rate)",
        ),
    )
}


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
