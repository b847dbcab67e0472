"""The CNN codecs' networks in TensorFlow, on tensorflow-compression (imports tensorflow).

The same architectures as CompressAI's ``FactorizedPrior`` (Ballé et al. 2017),
``ScaleHyperprior`` (Ballé et al. 2018), ``MeanScaleHyperprior`` and
``JointAutoregressiveHierarchicalPriors`` (Minnen et al. 2018), layer for layer: every
transform is built from the plan of :mod:`codecbench.codecs.learned.hyperprior.layers`
(which CompressAI's models are checked against), so that weights convert between the two
frameworks:

* convolutions are :class:`tfc.SignalConv2D` with centred zero padding
  (``same_zeros``): a 5×5 stride-2 convolution pads 2 pixels on each side, exactly as
  ``nn.Conv2d(k=5, s=2, p=2)``, and the upsampling ``corr=False`` variant equals
  ``nn.ConvTranspose2d(k=5, s=2, p=2, output_padding=1)``;
* :class:`tfc.GDN` with ``α = 2, ε = ½``: ``y_i = x_i / sqrt(β_i + Σ_j γ_ji x_j²)``
  (CompressAI's GDN; tfc's default is the simplified ``α = ε = 1`` form), with the same
  non-negative reparameterisation of β and γ as CompressAI;
* the factorized (hyper)prior is :class:`tfc.NoisyDeepFactorized` with hidden widths (3, 3, 3, 3),
  the Ballé 2018 density CompressAI's ``EntropyBottleneck`` implements;
* the conditional of ``ŷ`` is a Gaussian whose scale comes from ``h_s`` (and, for the
  mean-scale prior, its mean), coded by :class:`tfc.LocationScaleIndexedEntropyModel` on
  CompressAI's log-uniform table of 64 scales from 0.11 to 256;
* the autoregressive prior (Minnen 2018) predicts ``(σ, μ) = e([ψ, φ])`` from the hyperprior's
  ``ψ = h_s(ẑ)`` and the context ``φ = MaskedConv_5×5(ŷ)`` (:class:`MaskedConv2D`, PixelCNN's
  type-A mask: taps above the centre row and left of the centre), ``e`` three 1×1
  :class:`tfc.SignalConv2D` with LeakyReLU between them; :mod:`.autoregressive` codes ``ŷ``
  position by position with the same weights;
* the attention architecture (Bao et al. 2022, ``architecture="attention"``) adds
  :class:`HybridAttention` and :class:`Refinement` layers from its plan, and codes ``ŷ``
  with a Gaussian-scale mixture (:func:`noisy_gsm`: tfc's ``NoisyNormalMixture``, the
  mixture's learned ``gaussian_conditional.mixture_logits`` and ``.log_ratios``);
* a variable-rate network (one for every rate point, Cui et al. 2021, the torch twin's
  :mod:`~codecbench.codecs.learned.hyperprior.torch.gains`) carries ``Q × M`` gains ``g`` and
  inverse gains ``g'``: rate point ``q`` codes ``y = g_a(x) ⊙ g_q`` and decodes
  ``x̂ = g_s(ŷ ⊙ g'_q)`` (:meth:`CNNModel.analysis`, :meth:`CNNModel.synthesis`).

Every parameter is reachable under a stable, framework-neutral key (:func:`named_variables`)
that mirrors CompressAI's ``state_dict`` names (``g_a.0.kernel`` for ``g_a.0.weight``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from codecbench.codecs.learned.hyperprior import layers
from codecbench.codecs.learned.layer_plans import Conv, Step


class MaskedConv2D(tf.keras.layers.Layer):
    """A type-A masked ``k×k`` stride-1 convolution (PixelCNN, van den Oord et al. 2016;
    CompressAI's ``MaskedConv2d``): ``φ = conv(ŷ, K ⊙ mask) + b`` with zero padding ``k // 2``,
    the mask keeping only the taps of
    :func:`~codecbench.codecs.learned.hyperprior.layers.causal_taps`. ``kernel`` is stored
    unmasked (``kh×kw×in×out``, like :class:`tfc.SignalConv2D`); the mask is applied on every
    use, so the masked-out taps never matter."""

    def __init__(self, filters: int, kernel: int, name: str):
        super().__init__(name=name)
        self.filters, self.kernel_size = filters, kernel
        mask = np.zeros((kernel, kernel, 1, 1), np.float32)
        for row, column in layers.causal_taps(kernel):
            mask[row, column] = 1.0
        self.mask = tf.constant(mask)

    def build(self, input_shape):
        shape = (self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=tf.keras.initializers.VarianceScaling())
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        super().build(input_shape)

    @tf.autograph.experimental.do_not_convert  # plain ops: no conversion (seconds per model)
    def call(self, inputs, training=None):  # Keras passes ``training`` through the wrapper
        del training
        pad = self.kernel_size // 2
        outputs = tf.nn.conv2d(inputs, self.kernel * self.mask, strides=1,
                               padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return outputs + self.bias


class PlanConv2D(tf.keras.layers.Layer):
    """A stride-1 ``k×k`` convolution with zero padding ``k // 2`` (``nn.Conv2d(k, s=1,
    p=k//2)``), for the steps inside the attention architecture's blocks; its variables
    are named after the torch ``state_dict`` (``<name>.kernel`` ``kh×kw×in×out``,
    ``<name>.bias``)."""

    def __init__(self, step: Conv):
        super().__init__(name=step.name.rsplit(".", 1)[-1])
        if step.stride != 1 or step.transposed or step.kernel % 2 == 0:
            raise ValueError(f"PlanConv2D runs odd stride-1 convolutions, not {step!r}")
        self.step = step
        self.kernel = tf.Variable(tf.keras.initializers.VarianceScaling()(
            (step.kernel, step.kernel, step.in_channels, step.out_channels)),
            name=f"{step.name}.kernel")
        self.bias = tf.Variable(tf.zeros((step.out_channels,)), name=f"{step.name}.bias")

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs, training=None):
        del training
        return tf.nn.conv2d(inputs, self.kernel, strides=1, padding="SAME") + self.bias

    def named_weights(self) -> dict[str, tf.Variable]:
        return {f"{self.step.name}.kernel": self.kernel, f"{self.step.name}.bias": self.bias}


def _activation(kind: str, inputs):
    return tf.nn.relu(inputs) if kind == "relu" else tf.nn.leaky_relu(inputs, layers.LEAKY_SLOPE)


class HybridAttention(tf.keras.layers.Layer):
    """Bao et al. 2022's channel-then-spatial attention, the formula of the plan's
    :class:`~codecbench.codecs.learned.hyperprior.layers.HybridAttention` (NHWC)."""

    def __init__(self, step: layers.HybridAttention):
        super().__init__(name=step.name)
        first, act, second, spatial = step.steps()
        assert isinstance(first, Conv) and isinstance(act, layers.Activation)
        assert isinstance(second, Conv) and isinstance(spatial, Conv)
        self.kind = act.kind
        self.first, self.second, self.spatial = (PlanConv2D(first), PlanConv2D(second),
                                                 PlanConv2D(spatial))

    def _channel(self, pooled):
        return self.second(_activation(self.kind, self.first(pooled)))

    @tf.autograph.experimental.do_not_convert
    def call(self, x, training=None):  # Keras passes ``training`` through the Sequential
        del training
        pooled = (self._channel(tf.reduce_mean(x, (1, 2), keepdims=True))
                  + self._channel(tf.reduce_max(x, (1, 2), keepdims=True)))
        x = x * tf.sigmoid(pooled)
        summary = tf.concat([tf.reduce_mean(x, -1, keepdims=True),
                             tf.reduce_max(x, -1, keepdims=True)], -1)
        return x * tf.sigmoid(self.spatial(summary))

    def named_weights(self) -> dict[str, tf.Variable]:
        return {**self.first.named_weights(), **self.second.named_weights(),
                **self.spatial.named_weights()}


class Refinement(tf.keras.layers.Layer):
    """``x + body(x)``: the plan's :class:`~codecbench.codecs.learned.hyperprior.layers.Refinement`."""

    def __init__(self, step: layers.Refinement):
        super().__init__(name=step.name)
        self.body = [PlanConv2D(part) if isinstance(part, Conv) else step.kind
                     for part in step.steps()]

    @tf.autograph.experimental.do_not_convert
    def call(self, x, training=None):
        del training
        out = x
        for part in self.body:
            out = part(out) if isinstance(part, PlanConv2D) else _activation(part, out)
        return x + out

    def named_weights(self) -> dict[str, tf.Variable]:
        return {key: variable for part in self.body if isinstance(part, PlanConv2D)
                for key, variable in part.named_weights().items()}


def layer(step: Step) -> tf.keras.layers.Layer:
    """The Keras layer of a plan step, named as the step (CompressAI's module path)."""
    if isinstance(step, layers.HybridAttention):
        return HybridAttention(step)
    if isinstance(step, layers.Refinement):
        return Refinement(step)
    if isinstance(step, layers.MaskedConv):
        return MaskedConv2D(step.out_channels, step.kernel, name=step.name)
    if isinstance(step, Conv):
        strides = {"strides_up" if step.transposed else "strides_down": step.stride}
        return tfc.SignalConv2D(step.out_channels, (step.kernel, step.kernel),
                                corr=not step.transposed, padding="same_zeros",
                                use_bias=step.bias, kernel_parameter="variable",
                                name=step.name, **strides)
    if isinstance(step, layers.GDN):
        return tfc.GDN(inverse=step.inverse, alpha_parameter=2, epsilon_parameter=0.5,
                       name=step.name)
    if isinstance(step, layers.Activation) and step.kind == "relu":
        return tf.keras.layers.ReLU(name=step.name)
    if isinstance(step, layers.Activation) and step.kind == "leaky_relu":
        return tf.keras.layers.LeakyReLU(layers.LEAKY_SLOPE, name=step.name)  # Keras: 0.3
    raise ValueError(f"no TensorFlow layer for {step!r}")


def transform(name: str, steps) -> tf.keras.Sequential:
    """A transform of a :class:`~codecbench.codecs.learned.hyperprior.layers.PriorPlan`."""
    return tf.keras.Sequential([layer(step) for step in steps], name=name)


class CNNModel(tf.Module):
    """One codec network: transforms, the factorized density and the scale table.

    Attributes:
        prior: ``factorized``, ``hyperprior``, ``mean-scale`` or ``autoregressive``.
        density: the :class:`tfc.NoisyDeepFactorized` of ``y`` (factorized) or ``z``.
        quantization_offset: per-channel offsets ``o`` of the factorized latent,
            ``ŷ = round(y − o) + o`` (CompressAI's medians; tfc's median estimate for
            TF-trained models).
        scale_table: the Gaussian conditional's scales (hyperprior models).
        decoder_N: width of a distilled (narrower) synthesis ``g_s`` (0: ``N``), as the
            OMGD student of HiFiC (Ren et al. 2021).
        rate_points: ``Q`` of a variable-rate network (``gain``, ``inverse_gain``:
            ``Q × M``), ``0`` for a network of one rate point.
    """

    PRIORS = layers.PRIORS

    def __init__(self, prior: str, N: int, M: int, decoder_N: int = 0, rate_points: int = 0,
                 architecture: str = "gdn"):
        super().__init__(name="cnn_model")
        if prior not in self.PRIORS:
            raise ValueError(f"no TensorFlow model for prior {prior!r}; "
                             f"valid: {', '.join(self.PRIORS)}")
        self.prior, self.N, self.M = prior, N, M
        self.decoder_N = decoder_N if decoder_N and decoder_N != N else 0
        self.architecture = architecture
        self.plan = layers.prior_plan(prior, N, M, self.decoder_N, architecture)
        for name, steps in self.plan.transforms.items():  # g_a, g_s (, h_a, h_s, context)
            setattr(self, name, transform(name, steps))
        if self.plan.conditional is not None:
            self.scale_table = tf.Variable(default_scale_table(self.plan.conditional.levels),
                                           trainable=False, name="scale_table")
        self.mixture: dict[str, tf.Variable] = {}
        if isinstance(self.plan.conditional, layers.GaussianScaleMixture):
            components = self.plan.conditional.components
            self.mixture = {
                "mixture_logits": tf.Variable(tf.zeros((components,)), name="mixture_logits"),
                "log_ratios": tf.Variable(np.log(np.array(layers.GSM_INITIAL_RATIOS, np.float32)),
                                          name="log_ratios")}
        density = self.plan.density
        self.density = tfc.NoisyDeepFactorized(batch_shape=(density.channels,),
                                               num_filters=density.filters)
        self.quantization_offset = tf.Variable(tf.zeros((density.channels,)),
                                               trainable=False, name="quantization_offset")
        self.rate_points = rate_points
        if rate_points:
            self.gain = tf.Variable(tf.ones((rate_points, M)), name="gain")
            self.inverse_gain = tf.Variable(tf.ones((rate_points, M)), name="inverse_gain")
        with warnings.catch_warnings():
            # Keras 2.14 seeds unseeded initialisers with random.randint(1, 1e9) (a float)
            warnings.simplefilter("ignore", DeprecationWarning)
            self._build()

    def _build(self):
        x = tf.zeros((1, 64, 64, 3))
        y = self.g_a(x)
        self.g_s(y)
        if self.prior == "autoregressive":
            self.context_parameters(self.h_s(self.h_a(y)), y)
        elif self.plan.conditional is not None:
            self.h_s(self.h_a(y))

    def analysis(self, x, rate_point: int | None = None):
        """``y = g_a(x)``, times the gains ``g_q`` of 0-based ``rate_point`` in a
        variable-rate network (which needs one)."""
        y = self.g_a(x)
        return y if self._gain_row(rate_point) is None else y * self.gain[rate_point]

    def synthesis(self, y_hat, rate_point: int | None = None):
        """``x̂ = g_s(ŷ)``, ``ŷ`` first times the inverse gains ``g'_q`` in a variable-rate
        network."""
        if self._gain_row(rate_point) is not None:
            y_hat = y_hat * self.inverse_gain[rate_point]
        return self.g_s(y_hat)

    def _gain_row(self, rate_point: int | None) -> int | None:
        if not self.rate_points:
            if rate_point is not None:
                raise ValueError("a network of one rate point has no gain units to select")
            return None
        if rate_point is None or not 0 <= rate_point < self.rate_points:
            raise ValueError(f"a variable-rate network needs a rate point 0–"
                             f"{self.rate_points - 1}, got {rate_point!r}")
        return rate_point

    @property
    def transforms(self) -> dict[str, tf.keras.Sequential]:
        return {name: getattr(self, name) for name in self.plan.transforms}

    def hyper_analysis_input(self, y):
        """``|y|`` for the scale hyperprior (Ballé 2018), ``y`` for the mean-scale one."""
        return tf.abs(y) if self.plan.hyper_input == "abs" else y

    def gaussian_parameters(self, z_hat):
        """``(scales, means)`` of ``ŷ`` from ``ẑ``; ``means`` is ``None`` for the hyperprior."""
        if self.prior == "autoregressive":
            raise ValueError("the autoregressive prior's Gaussian depends on ŷ too: use "
                             "context_parameters(h_s(ẑ), ŷ)")
        params, names = self.h_s(z_hat), self.plan.conditional_outputs
        parts = tf.split(params, len(names), axis=-1) if len(names) > 1 else [params]
        predicted = dict(zip(names, parts, strict=True))
        return predicted["scales"], predicted.get("means")

    def context_parameters(self, psi, y_hat):
        """Minnen 2018's ``(σ, μ) = e([ψ, φ])``, ``φ = MaskedConv(ŷ)``, on whole tensors
        (training and the estimate; coding runs it position by position)."""
        context = self.context_prediction(y_hat)
        params = self.entropy_parameters(tf.concat([psi, context], axis=-1))
        scales, means = tf.split(params, 2, axis=-1)
        return scales, means

    def conditional_prior(self):
        """The noisy density of ``ŷ`` given ``loc``, ``scale``: tfc's ``NoisyNormal``, or
        the Gaussian-scale mixture of the attention architecture (:func:`noisy_gsm`)."""
        if not self.mixture:
            return tfc.NoisyNormal
        weights, ratios = gsm_shape(self.mixture["mixture_logits"], self.mixture["log_ratios"])
        return noisy_gsm(weights, ratios)

    def _log_table(self):
        """``(log s_0, Δ)`` of the log-uniform scale table ``s_i = exp(log s_0 + i · Δ)``."""
        table = self.scale_table
        log_min = tf.math.log(table[0])
        return log_min, (tf.math.log(table[-1]) - log_min) / (int(table.shape[0]) - 1)

    def scale_fn(self):
        """Scale of index ``i`` on the log-uniform table: ``exp(log s_0 + i · Δ)``."""
        log_min, step = self._log_table()
        return lambda index: tf.exp(tf.cast(log_min + step * tf.cast(index, tf.float32),
                                            index.dtype))

    def scale_index(self, scales):
        """Continuous table index of ``scales`` (bounded below by the table's first scale)."""
        log_min, step = self._log_table()
        return (tf.math.log(tf.maximum(scales, self.scale_table[0])) - log_min) / step

    def coding_index(self, scales):
        """Integer index of the table entry that codes each scale, as CompressAI picks it.

        ``index = #{k < L−1 : s_k < scale}``: the smallest table scale not below the
        predicted one (CompressAI's ``GaussianConditional.build_indexes``).
        """
        flat = tf.reshape(scales, [-1])
        index = tf.searchsorted(self.scale_table[:-1], flat, side="left")
        return tf.reshape(index, tf.shape(scales))


def gsm_shape(logits, log_ratios):
    """``(w, c)``: ``softmax(a)`` and ``exp(clip(r, ±log C))`` (the torch twin's
    ``attention.gsm_shape``)."""
    bound = math.log(layers.GSM_RATIO_BOUND)
    return tf.nn.softmax(logits), tf.exp(tf.clip_by_value(log_ratios, -bound, bound))


class _BoundedTailsMixture(tfc.NoisyNormalMixture):
    """tfc's noisy normal mixture whose coding tails are the widest component's: for a
    mixture of normals ``P(X < μ − c_max σ z) ≤ Φ(−z)``, so the table reaches the mixture's
    tail mass without tfc's iterative tail search."""

    def _widest(self):
        components = self.components_distribution.base
        return components.loc[..., 0], tf.reduce_max(components.scale, -1)

    def _lower_tail(self, tail_mass):
        loc, widest = self._widest()
        return loc + widest * normal_quantile(tail_mass / 2, widest.dtype)

    def _upper_tail(self, tail_mass):
        loc, widest = self._widest()
        return loc - widest * normal_quantile(tail_mass / 2, widest.dtype)


def normal_quantile(probability: float, dtype) -> tf.Tensor:
    """``Φ⁻¹(probability)`` in ``dtype``."""
    return tf.math.ndtri(tf.constant(probability, dtype))


def noisy_gsm(weights, ratios):
    """``prior_fn(loc, scale)`` of Bao et al. 2022's Gaussian-scale mixture,
    ``Σ_k w_k N(loc, (c_k · scale)²) ∗ U(−½, ½)``, in the dtype of ``scale``."""
    def prior(loc, scale):
        scale = tf.convert_to_tensor(scale)
        loc = tf.cast(loc, scale.dtype) + tf.zeros_like(scale)
        shape = tf.concat([tf.shape(scale), [int(weights.shape[0])]], 0)
        return _BoundedTailsMixture(
            loc=loc[..., None] + tf.zeros(shape, scale.dtype),
            scale=scale[..., None] * tf.cast(ratios, scale.dtype),
            weight=tf.broadcast_to(tf.cast(weights, scale.dtype), shape))
    return prior


def default_scale_table(levels: int = layers.SCALE_LEVELS) -> tf.Tensor:
    """CompressAI's default scale table (``compressai.models.google.get_scale_table``)."""
    return tf.exp(tf.linspace(math.log(layers.SCALE_MIN), math.log(layers.SCALE_MAX), levels))


def named_variables(model: CNNModel) -> dict[str, tf.Variable]:
    """Every variable of ``model`` under its stable key (CompressAI's names, TF layouts).

    ``<transform>.<i>.kernel`` (``kh×kw×in×out``), ``.bias``, ``.beta`` and ``.gamma``
    (GDN, stored reparameterised as in CompressAI, γ transposed), ``density.matrix<i>``,
    ``density.bias<i>``, ``density.factor<i>``, ``quantization_offset``, ``scale_table``, the
    attention blocks' convolutions (``g_a.4.channel.0.kernel`` …) and mixture
    (``gaussian_conditional.mixture_logits``, ``.log_ratios``), and in a variable-rate
    network ``gain_units.gain`` and ``gain_units.inverse_gain``.
    """
    variables = {}
    for sequential in model.transforms.values():
        for layer in sequential.layers:
            if isinstance(layer, tfc.SignalConv2D):
                variables[f"{layer.name}.kernel"] = layer.kernel_parameter
                variables[f"{layer.name}.bias"] = layer.bias_parameter
            elif isinstance(layer, MaskedConv2D):
                variables[f"{layer.name}.kernel"] = layer.kernel
                variables[f"{layer.name}.bias"] = layer.bias
            elif isinstance(layer, tfc.GDN):
                variables[f"{layer.name}.beta"] = layer.beta_parameter.variable
                variables[f"{layer.name}.gamma"] = layer.gamma_parameter.variable
            elif isinstance(layer, HybridAttention | Refinement):
                variables.update(layer.named_weights())
    for variable in model.density.base.variables:
        key = variable.name.split("/")[-1].split(":")[0].replace("_", "")  # matrix_0 → matrix0
        variables[f"density.{key}"] = variable
    variables["quantization_offset"] = model.quantization_offset
    if model.plan.conditional is not None:
        variables["scale_table"] = model.scale_table
    for key, variable in model.mixture.items():
        variables[f"gaussian_conditional.{key}"] = variable
    if model.rate_points:
        variables["gain_units.gain"] = model.gain
        variables["gain_units.inverse_gain"] = model.inverse_gain
    return variables
