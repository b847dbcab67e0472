"""The CNN codecs' transforms and entropy models as plain data (framework-free).

The one statement of the architectures of Ballé et al. 2017 ("End-to-end optimized image
compression": factorized prior), Ballé et al. 2018 ("Variational image compression with a
scale hyperprior") and Minnen et al. 2018 ("Joint autoregressive and hierarchical priors
for learned image compression": mean-scale hyperprior, and the joint autoregressive and
hierarchical prior), layer for layer as CompressAI's ``FactorizedPrior``,
``ScaleHyperprior``, ``MeanScaleHyperprior`` and ``JointAutoregressiveHierarchicalPriors``
build them. Step ``i`` of a transform ``t`` is CompressAI's module ``t.<i>`` (its
``state_dict`` names); ``conv``/``deconv`` are 5×5, stride 2 unless stated, ``deconv``
transposed::

    g_a  conv 3→N, GDN, conv N→N, GDN, conv N→N, GDN, conv N→M          image → y
    g_s  deconv M→N, IGDN, deconv N→N, IGDN, deconv N→N, IGDN, deconv N→3   ŷ → image
    h_a  conv 3×3 s1 M→N, act, conv N→N, act, conv N→N                   y or |y| → z
         (ReLU and |y| for the scale hyperprior, LeakyReLU and y for mean-scale)
    h_s  scale:      deconv N→N, ReLU, deconv N→N, ReLU, conv 3×3 s1 N→M, ReLU  → σ
         mean-scale: deconv N→M, LReLU, deconv M→3M/2, LReLU, conv 3×3 s1 3M/2→2M → σ, μ
    autoregressive (Minnen 2018): h_a, h_s as mean-scale, h_s → ψ (2M channels), and
    context_prediction   masked 5×5 s1 conv M→2M on ŷ (causal: rows above, left in row) → φ
    entropy_parameters   1×1 convs 4M→10M/3, LReLU, 10M/3→8M/3, LReLU, 8M/3→2M on [ψ, φ] → σ, μ

with the factorized density of Ballé 2018 (``entropy_bottleneck``: ``M`` channels for the
factorized prior, ``N`` for the hyperpriors' ``z``) and, for the hyperpriors, the
Gaussian conditional of ``ŷ`` on a table of scales (``gaussian_conditional``).
:mod:`codecbench.codecs.learned.hyperprior.tf.network` builds the TensorFlow twin from these
plans; the torch side is CompressAI's classes (and the distilled ``g_s`` of
:func:`codecbench.codecs.learned.hyperprior.torch.weights.synthesis_transform`), whose parameters
``tests/test_layer_plans.py`` checks against the plans name for name and shape for shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import Activation, Conv, Shape, Step, parameters

PRIORS = ("factorized", "hyperprior", "mean-scale", "autoregressive")
ARCHITECTURES = ("gdn", "attention")
"""``gdn``: the Ballé/Minnen transforms above; ``attention``: Bao et al. 2022 (see
:func:`attention_plan`)."""
KERNEL, STRIDE, HYPER_KERNEL = 5, 2, 3
FILTERS = (3, 3, 3, 3)
"""Hidden widths of the factorized density (CompressAI's ``EntropyBottleneck`` default)."""
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
"""CompressAI's ``get_scale_table()``: ``exp(linspace(log 0.11, log 256, 64))``."""
LEAKY_SLOPE = 0.01
"""``nn.LeakyReLU``'s default negative slope."""
CONTEXT_KERNEL = 5
"""The context model's masked convolution is 5×5 (Minnen 2018, CompressAI's ``MaskedConv2d``)."""


@dataclass(frozen=True)
class GDN(Step):
    """GDN ``y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)`` (IGDN multiplies); owns ``name.beta``
    and ``name.gamma`` (both stored reparameterised)."""

    name: str
    channels: int
    inverse: bool = False

    def parameters(self) -> dict[str, Shape]:
        return {f"{self.name}.beta": (self.channels,),
                f"{self.name}.gamma": (self.channels, self.channels)}


@dataclass(frozen=True)
class FactorizedDensity(Step):
    """Ballé 2018's factorized density of ``channels`` channels: per channel a cascade of
    ``1 → filters… → 1`` matrices, biases and (but for the last) tanh factors, and the
    ``quantiles`` (lower tail, median, upper tail)."""

    channels: int
    name: str = "entropy_bottleneck"
    filters: tuple[int, ...] = FILTERS

    def parameters(self) -> dict[str, Shape]:
        widths = (1, *self.filters, 1)
        layers = list(enumerate(zip(widths, widths[1:], strict=False)))
        c, name = self.channels, self.name
        return {f"{name}.quantiles": (c, 1, 3),
                **{f"{name}.matrices.{i}": (c, b, a) for i, (a, b) in layers},
                **{f"{name}.biases.{i}": (c, b, 1) for i, (_, b) in layers},
                **{f"{name}.factors.{i}": (c, b, 1) for i, (_, b) in layers[:-1]}}


@dataclass(frozen=True)
class GaussianConditional(Step):
    """The Gaussian of ``ŷ`` given (mean and) scale, coded on a log-uniform table of
    :data:`SCALE_LEVELS` scales (``name.scale_table``, a buffer, not a parameter)."""

    name: str = "gaussian_conditional"
    levels: int = SCALE_LEVELS

    def buffers(self) -> dict[str, Shape]:
        return {f"{self.name}.scale_table": (self.levels,)}


@dataclass(frozen=True)
class GaussianScaleMixture(GaussianConditional):
    """Bao et al. 2022's Gaussian-scale mixture of ``ŷ`` given mean ``μ`` and scale ``σ``::

        p(ŷ | μ, σ) = Σ_k w_k · (N(μ, (c_k σ)²) ∗ U(−½, ½))(ŷ),   w = softmax(a),
        c_k = exp(clip(r_k, −log C, log C))

    ``K`` components whose weights ``w`` (logits ``name.mixture_logits``) and scale ratios
    ``c`` (``name.log_ratios``, bounded by :data:`GSM_RATIO_BOUND` so that the coding tables
    stay finite) are learned once for the model, shared by every element: ``σ`` alone
    varies per element, so the mixture is still coded on the table of :data:`SCALE_LEVELS`
    scales, by the libraries' indexed coders."""

    components: int = 3

    def parameters(self) -> dict[str, Shape]:
        return {f"{self.name}.mixture_logits": (self.components,),
                f"{self.name}.log_ratios": (self.components,)}


GSM_RATIO_BOUND = 4.0
"""Largest scale ratio ``c_k`` (and smallest ``1 / C``) of a mixture component."""
GSM_INITIAL_RATIOS = (0.5, 1.0, 2.0)
"""Initial ``c_k`` of the three components (equal weights at the start)."""


@dataclass(frozen=True)
class HybridAttention(Step):
    """Bao et al. 2022's hybrid-domain attention on ``C`` channels: channel attention, then
    spatial attention (the arrangement of CBAM, Woo et al. 2018)::

        a = sigmoid(f(avgpool x) + f(maxpool x)),  f = conv1×1(C/r → C) ∘ ReLU ∘ conv1×1(C → C/r)
        x' = a ⊙ x
        m = sigmoid(conv_k×k([mean_c x', max_c x']))           (2 → 1 channel)
        out = m ⊙ x'

    Owns ``name.channel.0`` and ``name.channel.2`` (the 1×1 convolutions of ``f``) and
    ``name.spatial`` (the ``k×k`` one)."""

    name: str
    channels: int
    reduction: int = 4
    spatial_kernel: int = 7

    def steps(self) -> tuple[Step, ...]:
        hidden = max(1, self.channels // self.reduction)
        return (Conv(f"{self.name}.channel.0", self.channels, hidden, 1),
                Activation(f"{self.name}.channel.1", "relu"),
                Conv(f"{self.name}.channel.2", hidden, self.channels, 1),
                Conv(f"{self.name}.spatial", 2, 1, self.spatial_kernel))

    def parameters(self) -> dict[str, Shape]:
        return parameters(self.steps())


@dataclass(frozen=True)
class Refinement(Step):
    """A residual refinement ``out = x + body(x)``, ``body`` 3×3 stride-1 convolutions
    ``C → H → … → H → C`` with ``kind`` between them (``name.body.<i>``): Bao et al. 2022's
    inverse-quantisation module (on ``ŷ``) and post-processing enhancement (on ``x̂``)."""

    name: str
    channels: int
    hidden: int
    depth: int = 3
    kind: str = "leaky_relu"

    def steps(self) -> tuple[Step, ...]:
        widths = (self.channels, *([self.hidden] * (self.depth - 1)), self.channels)
        steps: list[Step] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
            if i:
                steps.append(Activation(f"{self.name}.body.{len(steps)}", self.kind))
            steps.append(Conv(f"{self.name}.body.{len(steps)}", a, b, HYPER_KERNEL))
        return tuple(steps)

    def parameters(self) -> dict[str, Shape]:
        return parameters(self.steps())


@dataclass(frozen=True)
class MaskedConv(Conv):
    """PixelCNN's type-A masked convolution (van den Oord et al. 2016), CompressAI's
    ``MaskedConv2d``: a ``k×k`` stride-1 convolution whose kernel taps at and after the
    centre in raster order are zero, so output ``(h, w)`` sees only ``ŷ`` above row ``h``
    and left of ``(h, w)`` in it. The mask is a constant (:func:`causal_taps`), not state."""


def causal_taps(kernel: int = CONTEXT_KERNEL) -> tuple[tuple[int, int], ...]:
    """The ``(row, column)`` kernel taps a type-A mask keeps, in raster order:
    ``k·(k // 2) + k // 2`` of them (12 of a 5×5 kernel)."""
    centre = kernel // 2
    return tuple((row, column) for row in range(kernel) for column in range(kernel)
                 if row < centre or (row == centre and column < centre))


@dataclass(frozen=True)
class PriorPlan:
    """One prior's network.

    Attributes:
        transforms: ``g_a``, ``g_s`` (and ``h_a``, ``h_s``) → their steps, in order.
        density: the factorized density (of ``y``, or of the hyperprior's ``z``).
        conditional: the Gaussian of ``ŷ`` (``None`` for the factorized prior).
        hyper_input: ``abs`` (``h_a(|y|)``, Ballé 2018) or ``identity`` (Minnen 2018).
        conditional_outputs: what ``h_s`` (with a context model: the entropy parameters)
            predicts, in channel order.
    """

    prior: str
    transforms: dict[str, tuple[Step, ...]]
    density: FactorizedDensity
    conditional: GaussianConditional | None = None
    hyper_input: str = ""
    conditional_outputs: tuple[str, ...] = ()

    def parameters(self) -> dict[str, Shape]:
        """Every learned parameter (CompressAI's ``named_parameters``) → torch shape."""
        steps = [step for steps in self.transforms.values() for step in steps]
        extra = [self.conditional] if self.conditional else []
        return parameters([*steps, self.density, *extra])

    def buffers(self) -> dict[str, Shape]:
        """The state beyond the parameters that a twin must share (the scale table)."""
        return self.conditional.buffers() if self.conditional else {}


Maker = Callable[[str], Step]


def conv(a: int, b: int, kernel: int = KERNEL, stride: int = STRIDE) -> Maker:
    return lambda name: Conv(name, a, b, kernel, stride)


def deconv(a: int, b: int) -> Maker:
    return lambda name: Conv(name, a, b, KERNEL, STRIDE, transposed=True)


def attention(channels: int) -> Maker:
    return lambda name: HybridAttention(name, channels)


def refinement(channels: int, hidden: int, kind: str = "leaky_relu") -> Maker:
    return lambda name: Refinement(name, channels, hidden, kind=kind)


def gdn(channels: int, inverse: bool = False) -> Maker:
    return lambda name: GDN(name, channels, inverse)


def activation(kind: str) -> Maker:
    return lambda name: Activation(name, kind)


def sequential(prefix: str, makers: list[Maker]) -> tuple[Step, ...]:
    """The steps of an ``nn.Sequential`` named ``prefix``: step ``i`` is ``prefix.<i>``."""
    return tuple(make(f"{prefix}.{i}") for i, make in enumerate(makers))


def analysis(N: int, M: int) -> tuple[Step, ...]:
    """``g_a``: four stride-2 5×5 convolutions with GDN between them."""
    return sequential("g_a", [conv(3, N), gdn(N), conv(N, N), gdn(N), conv(N, N), gdn(N),
                              conv(N, M)])


def synthesis(M: int, N: int) -> tuple[Step, ...]:
    """``g_s``: four stride-2 5×5 transposed convolutions with inverse GDN between them."""
    return sequential("g_s", [deconv(M, N), gdn(N, True), deconv(N, N), gdn(N, True),
                              deconv(N, N), gdn(N, True), deconv(N, 3)])


def hyper_analysis(N: int, M: int, kind: str) -> tuple[Step, ...]:
    """``h_a``: a 3×3 stride-1 then two 5×5 stride-2 convolutions, ``kind`` between them."""
    return sequential("h_a", [conv(M, N, HYPER_KERNEL, 1), activation(kind), conv(N, N),
                              activation(kind), conv(N, N)])


def hyper_synthesis(N: int, M: int, prior: str) -> tuple[Step, ...]:
    """``h_s``: ``ẑ`` → scales (hyperprior, ReLU) or scales and means (mean-scale)."""
    if prior == "hyperprior":
        return sequential("h_s", [deconv(N, N), activation("relu"), deconv(N, N),
                                  activation("relu"), conv(N, M, HYPER_KERNEL, 1),
                                  activation("relu")])
    return sequential("h_s", [deconv(N, M), activation("leaky_relu"), deconv(M, M * 3 // 2),
                              activation("leaky_relu"), conv(M * 3 // 2, M * 2, HYPER_KERNEL, 1)])


def context_prediction(M: int) -> tuple[Step, ...]:
    """Minnen 2018's context model: ``φ = MaskedConv_5×5(ŷ)``, ``M → 2M`` channels."""
    return (MaskedConv("context_prediction", M, 2 * M, CONTEXT_KERNEL, 1),)


def entropy_parameters(M: int) -> tuple[Step, ...]:
    """Minnen 2018's entropy parameters network: 1×1 convolutions on ``[ψ, φ]``
    (``4M → 10M/3 → 8M/3 → 2M``, LeakyReLU between) giving ``(σ, μ)`` per element."""
    return sequential("entropy_parameters", [
        conv(M * 12 // 3, M * 10 // 3, 1, 1), activation("leaky_relu"),
        conv(M * 10 // 3, M * 8 // 3, 1, 1), activation("leaky_relu"),
        conv(M * 8 // 3, M * 6 // 3, 1, 1)])


POST_FILTER_WIDTH = 32
"""Hidden channels of the attention architecture's post-processing enhancement (on x̂)."""


def attention_plan(N: int, M: int) -> PriorPlan:
    """Bao et al. 2022 ("Image compression method based on a hybrid domain attention
    mechanism and postprocessing improvement", Computational Intelligence and Neuroscience
    2022): the mean-scale hyperprior with hybrid-domain attention in every transform, an
    inverse-quantisation module, a post-processing enhancement and a Gaussian-scale
    mixture::

        g_a  conv 3→N, GDN, conv N→N, GDN, HDA(N), conv N→N, GDN, conv N→M, HDA(M)
        g_s  IQ(M), HDA(M), deconv M→N, IGDN, deconv N→N, IGDN, HDA(N), deconv N→N, IGDN,
             deconv N→3, PE(3)
        h_a  conv 3×3 s1 M→N, LReLU, HDA(N), conv N→N, LReLU, conv N→N
        h_s  deconv N→M, LReLU, HDA(M), deconv M→3M/2, LReLU, conv 3×3 s1 3M/2→2M → σ, μ

    ``HDA`` is :class:`HybridAttention`, ``IQ`` a :class:`Refinement` of ``ŷ`` (width N),
    ``PE`` one of ``x̂`` (width :data:`POST_FILTER_WIDTH`), and ``ŷ`` is coded with the
    :class:`GaussianScaleMixture`. The paper's text beyond its abstract was not available
    to us: the placement of the attention blocks (after the second and fourth stage, as
    Cheng et al. 2020 place theirs), the widths and depths of IQ and PE, and a mixture
    shared by all elements are our reading, stated in the model card.
    """
    transforms = {
        "g_a": sequential("g_a", [conv(3, N), gdn(N), conv(N, N), gdn(N), attention(N),
                                  conv(N, N), gdn(N), conv(N, M), attention(M)]),
        "g_s": sequential("g_s", [refinement(M, N), attention(M), deconv(M, N), gdn(N, True),
                                  deconv(N, N), gdn(N, True), attention(N), deconv(N, N),
                                  gdn(N, True), deconv(N, 3),
                                  refinement(3, POST_FILTER_WIDTH, "relu")]),
        "h_a": sequential("h_a", [conv(M, N, HYPER_KERNEL, 1), activation("leaky_relu"),
                                  attention(N), conv(N, N), activation("leaky_relu"),
                                  conv(N, N)]),
        "h_s": sequential("h_s", [deconv(N, M), activation("leaky_relu"), attention(M),
                                  deconv(M, M * 3 // 2), activation("leaky_relu"),
                                  conv(M * 3 // 2, M * 2, HYPER_KERNEL, 1)]),
    }
    return PriorPlan("mean-scale", transforms, FactorizedDensity(N), GaussianScaleMixture(),
                     hyper_input="identity",
                     conditional_outputs=("scales", "means"))


def prior_plan(prior: str, N: int, M: int, decoder_N: int = 0,
               architecture: str = "gdn") -> PriorPlan:
    """The plan of ``prior`` with ``N``/``M`` channels; ``decoder_N`` (when non-zero) is
    the width of a distilled ``g_s``; ``architecture`` one of :data:`ARCHITECTURES`
    (``attention`` is the mean-scale prior of :func:`attention_plan`)."""
    if prior not in PRIORS:
        raise ValueError(f"no layer plan for prior {prior!r}; valid: {', '.join(PRIORS)}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"no layer plan for architecture {architecture!r}; "
                         f"valid: {', '.join(ARCHITECTURES)}")
    if architecture == "attention":
        if prior != "mean-scale" or decoder_N:
            raise ValueError("the attention architecture is a mean-scale hyperprior "
                             "without a distilled decoder")
        return attention_plan(N, M)
    transforms = {"g_a": analysis(N, M), "g_s": synthesis(M, decoder_N or N)}
    if prior == "factorized":
        return PriorPlan(prior, transforms, FactorizedDensity(M))
    mean_scale = prior in ("mean-scale", "autoregressive")
    transforms["h_a"] = hyper_analysis(N, M, "leaky_relu" if mean_scale else "relu")
    transforms["h_s"] = hyper_synthesis(N, M, "mean-scale" if mean_scale else prior)
    if prior == "autoregressive":
        transforms["context_prediction"] = context_prediction(M)
        transforms["entropy_parameters"] = entropy_parameters(M)
    return PriorPlan(prior, transforms, FactorizedDensity(N), GaussianConditional(),
                     hyper_input="identity" if mean_scale else "abs",
                     conditional_outputs=("scales", "means") if mean_scale else ("scales",))
