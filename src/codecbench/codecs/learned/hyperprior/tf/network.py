"""The CNN codecs' networks in TensorFlow, on tensorflow-compression (imports tensorflow).

The same architectures as CompressAI's ``FactorizedPrior`` (Ballé et al. 2017),
``ScaleHyperprior`` (Ballé et al. 2018) and ``MeanScaleHyperprior`` (Minnen et al. 2018),
layer for layer, so that weights convert between the two frameworks:

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
  CompressAI's log-uniform table of 64 scales from 0.11 to 256.

Every parameter is reachable under a stable, framework-neutral key (:func:`named_variables`)
that mirrors CompressAI's ``state_dict`` names (``g_a.0.kernel`` for ``g_a.0.weight``).
"""

from __future__ import annotations

import math
import warnings

import tensorflow as tf
import tensorflow_compression as tfc

FILTERS = (3, 3, 3, 3)
"""Hidden widths of the factorized density (CompressAI's ``EntropyBottleneck`` default)."""
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
"""CompressAI's ``get_scale_table()``: ``exp(linspace(log 0.11, log 256, 64))``."""
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default (Keras' is 0.3)


def _conv(filters: int, kernel: int = 5, stride: int = 2, name: str = "") -> tfc.SignalConv2D:
    return tfc.SignalConv2D(filters, (kernel, kernel), corr=True, strides_down=stride,
                            padding="same_zeros", use_bias=True,
                            kernel_parameter="variable", name=name)


def _deconv(filters: int, kernel: int = 5, stride: int = 2, name: str = "") -> tfc.SignalConv2D:
    return tfc.SignalConv2D(filters, (kernel, kernel), corr=False, strides_up=stride,
                            padding="same_zeros", use_bias=True,
                            kernel_parameter="variable", name=name)


def _gdn(inverse: bool, name: str) -> tfc.GDN:
    return tfc.GDN(inverse=inverse, alpha_parameter=2, epsilon_parameter=0.5, name=name)


def _activation(kind: str, name: str):
    if kind == "relu":
        return tf.keras.layers.ReLU(name=name)
    return tf.keras.layers.LeakyReLU(LEAKY_SLOPE, name=name)


def _sequential(name: str, specs) -> tf.keras.Sequential:
    """A Sequential whose layer ``i`` is named ``<name>.<i>`` (CompressAI's module index)."""
    layers = []
    for index, (maker, args) in enumerate(specs):
        layers.append(maker(*args, name=f"{name}.{index}"))
    return tf.keras.Sequential(layers, name=name)


def analysis(N: int, M: int) -> tf.keras.Sequential:
    """``g_a``: four stride-2 5×5 convolutions with GDN between them (image → ``y``)."""
    return _sequential("g_a", [(_conv, (N,)), (_gdn, (False,)), (_conv, (N,)), (_gdn, (False,)),
                               (_conv, (N,)), (_gdn, (False,)), (_conv, (M,))])


def synthesis(N: int) -> tf.keras.Sequential:
    """``g_s``: four stride-2 5×5 transposed convolutions with inverse GDN (``ŷ`` → image)."""
    return _sequential("g_s", [(_deconv, (N,)), (_gdn, (True,)), (_deconv, (N,)), (_gdn, (True,)),
                               (_deconv, (N,)), (_gdn, (True,)), (_deconv, (3,))])


def hyper_analysis(N: int, activation: str) -> tf.keras.Sequential:
    """``h_a``: 3×3 stride-1 then two 5×5 stride-2 convolutions (``y`` → ``z``)."""
    return _sequential("h_a", [(_conv, (N, 3, 1)), (_activation, (activation,)), (_conv, (N,)),
                               (_activation, (activation,)), (_conv, (N,))])


def hyper_synthesis(N: int, M: int, prior: str) -> tf.keras.Sequential:
    """``h_s``: ``ẑ`` → scales (hyperprior, ReLU) or scales and means (mean-scale)."""
    if prior == "hyperprior":
        return _sequential("h_s", [(_deconv, (N,)), (_activation, ("relu",)), (_deconv, (N,)),
                                   (_activation, ("relu",)), (_conv, (M, 3, 1)),
                                   (_activation, ("relu",))])
    return _sequential("h_s", [(_deconv, (M,)), (_activation, ("leaky",)),
                               (_deconv, (M * 3 // 2,)), (_activation, ("leaky",)),
                               (_conv, (M * 2, 3, 1))])


class CNNModel(tf.Module):
    """One codec network: transforms, the factorized density and the scale table.

    Attributes:
        prior: ``factorized``, ``hyperprior`` or ``mean-scale``.
        density: the :class:`tfc.NoisyDeepFactorized` of ``y`` (factorized) or ``z``.
        quantization_offset: per-channel offsets ``o`` of the factorized latent,
            ``ŷ = round(y − o) + o`` (CompressAI's medians; tfc's median estimate for
            TF-trained models).
        scale_table: the Gaussian conditional's scales (hyperprior models).
    """

    PRIORS = ("factorized", "hyperprior", "mean-scale")

    def __init__(self, prior: str, N: int, M: int):
        super().__init__(name="cnn_model")
        if prior not in self.PRIORS:
            raise ValueError(f"no TensorFlow model for prior {prior!r}; "
                             f"valid: {', '.join(self.PRIORS)}")
        self.prior, self.N, self.M = prior, N, M
        self.g_a = analysis(N, M)
        self.g_s = synthesis(N)
        factorized_channels = M if prior == "factorized" else N
        if prior != "factorized":
            self.h_a = hyper_analysis(N, "relu" if prior == "hyperprior" else "leaky")
            self.h_s = hyper_synthesis(N, M, prior)
            self.scale_table = tf.Variable(default_scale_table(), trainable=False,
                                           name="scale_table")
        self.density = tfc.NoisyDeepFactorized(batch_shape=(factorized_channels,),
                                               num_filters=FILTERS)
        self.quantization_offset = tf.Variable(tf.zeros((factorized_channels,)),
                                               trainable=False, name="quantization_offset")
        with warnings.catch_warnings():
            # Keras 2.14 seeds unseeded initialisers with random.randint(1, 1e9) (a float)
            warnings.simplefilter("ignore", DeprecationWarning)
            self._build()

    def _build(self):
        x = tf.zeros((1, 64, 64, 3))
        y = self.g_a(x)
        self.g_s(y)
        if self.prior != "factorized":
            self.h_s(self.h_a(y))

    @property
    def transforms(self) -> dict[str, tf.keras.Sequential]:
        names = ("g_a", "g_s") if self.prior == "factorized" else ("g_a", "g_s", "h_a", "h_s")
        return {name: getattr(self, name) for name in names}

    def hyper_analysis_input(self, y):
        """``|y|`` for the scale hyperprior (Ballé 2018), ``y`` for the mean-scale one."""
        return tf.abs(y) if self.prior == "hyperprior" else y

    def gaussian_parameters(self, z_hat):
        """``(scales, means)`` of ``ŷ`` from ``ẑ``; ``means`` is ``None`` for the hyperprior."""
        params = self.h_s(z_hat)
        if self.prior == "hyperprior":
            return params, None
        scales, means = tf.split(params, 2, axis=-1)
        return scales, means

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


def default_scale_table() -> tf.Tensor:
    """CompressAI's default scale table (``compressai.models.google.get_scale_table``)."""
    return tf.exp(tf.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


def named_variables(model: CNNModel) -> dict[str, tf.Variable]:
    """Every variable of ``model`` under its stable key (CompressAI's names, TF layouts).

    ``<transform>.<i>.kernel`` (``kh×kw×in×out``), ``.bias``, ``.beta`` and ``.gamma``
    (GDN, stored reparameterised as in CompressAI, γ transposed), ``density.matrix<i>``,
    ``density.bias<i>``, ``density.factor<i>``, ``quantization_offset``, ``scale_table``.
    """
    variables = {}
    for sequential in model.transforms.values():
        for layer in sequential.layers:
            if isinstance(layer, tfc.SignalConv2D):
                variables[f"{layer.name}.kernel"] = layer.kernel_parameter
                variables[f"{layer.name}.bias"] = layer.bias_parameter
            elif isinstance(layer, tfc.GDN):
                variables[f"{layer.name}.beta"] = layer.beta_parameter.variable
                variables[f"{layer.name}.gamma"] = layer.gamma_parameter.variable
    for variable in model.density.base.variables:
        key = variable.name.split("/")[-1].split(":")[0].replace("_", "")  # matrix_0 → matrix0
        variables[f"density.{key}"] = variable
    variables["quantization_offset"] = model.quantization_offset
    if model.prior != "factorized":
        variables["scale_table"] = model.scale_table
    return variables
