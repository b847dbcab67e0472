"""Torch → TensorFlow weight conversion, and the TF weights file (imports tensorflow).

A torch weights file (:mod:`codecbench.codecs.learned.hyperprior.torch.weights`, a CompressAI
``state_dict``) maps onto :class:`~codecbench.codecs.learned.hyperprior.tf.network.CNNModel` parameter by
parameter; nothing is re-fitted:

==============================================  ===============================================
CompressAI (PyTorch, NCHW)                      tensorflow-compression (NHWC)
==============================================  ===============================================
``Conv2d.weight``  ``out×in×kh×kw``             ``SignalConv2D(corr=True).kernel`` ``kh×kw×in×out``
``ConvTranspose2d.weight`` ``in×out×kh×kw``     ``SignalConv2D(corr=False).kernel`` ``kh×kw×in×out``
``GDN.beta``, ``GDN.gamma`` (reparameterised)   ``GDN`` β, γᵀ variables (same reparameterisation:
                                                ``v = max(p, √(min + 2⁻³⁶))² − 2⁻³⁶``)
``EntropyBottleneck._matrix/_bias/_factor<i>``  ``DeepFactorized`` matrix/bias/factor ``<i>``
                                                (same ``C×out×in`` layout, softplus, tanh)
``EntropyBottleneck.quantiles[:, 0, 1]``        ``quantization_offset`` (the medians: ŷ =
                                                round(y − m) + m, as CompressAI quantises)
``GaussianConditional.scale_table``             ``scale_table`` (must be log-uniform)
``MaskedConv2d.weight`` ``out×in×kh×kw``        ``MaskedConv2D.kernel`` ``kh×kw×in×out``
``MaskedConv2d.mask``                           none: checked to be the type-A mask the TF
                                                layer applies (a constant)
``HybridAttention``/``Refinement`` convolutions  :class:`PlanConv2D` kernels ``kh×kw×in×out``
``gaussian_conditional.mixture_logits``,        the mixture's ``mixture_logits``,
``.log_ratios`` (Bao 2022)                      ``log_ratios`` (same values)
``gain_units.gain``, ``.inverse_gain``          ``gain``, ``inverse_gain`` (``Q × M``; in a
                                                variable-rate file, ``rate_points`` = ``Q``)
==============================================  ===============================================

CompressAI's range-coding tables (``_quantized_cdf`` …) are not converted: tfc builds its
own from the converted density with the same tail mass (10⁻⁹) and precision (16 bits), and
the TF weights file stores them, so encoder and decoder never rebuild them independently.

The TF weights file (``<model>-q<Q>.tf.safetensors``, format ``codecbench-tf-weights/1``)
holds every variable of :func:`~codecbench.codecs.learned.hyperprior.tf.network.named_variables` plus
``tables.cdf`` and ``tables.cdf_offset``; its metadata repeats the torch file's and adds
``source`` (the torch weights id it was converted from, if any).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from codecbench.api.atomic import atomic_path
from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.hyperprior import layers
from codecbench.codecs.learned.hyperprior.tf.network import CNNModel, named_variables
from codecbench.codecs.learned.hyperprior.tf.pipeline import EntropyCoders
from codecbench.codecs.learned.models import learned_model

FORMAT = "codecbench-tf-weights/1"
TABLE_KEYS = ("tables.cdf", "tables.cdf_offset")
IGNORED_TORCH_SUFFIXES = ("_quantized_cdf", "_offset", "_cdf_length", "likelihood_lower_bound.bound",
                          "entropy_bottleneck.target", "reparam.lower_bound.bound",
                          "reparam.pedestal", "gaussian_conditional.lower_bound_scale.bound",
                          "gaussian_conditional.scale_bound")
"""CompressAI buffers with no TF counterpart: coding tables (rebuilt by tfc), the aux-loss
target, the constants of the GDN reparameterisation (checked equal to tfc's) and the
Gaussian's scale bound (the first table scale, which the TF model uses as its bound)."""
PEDESTAL = 2.0**-36  # (2⁻¹⁸)², the reparameterisation offset of both libraries
MASK_SUFFIX = "context_prediction.mask"


class ConversionError(ValueError):
    """The weights do not fit the TensorFlow model (message names the tensors)."""


def _torch_key(tf_key: str) -> str:
    if tf_key.startswith("density."):
        kind, index = tf_key[len("density."):-1], tf_key[-1]  # matrix0 → matrices.0
        plural = {"matrix": "matrices", "bias": "biases", "factor": "factors"}[kind]
        return f"entropy_bottleneck.{plural}.{index}"
    if tf_key == "quantization_offset":
        return "entropy_bottleneck.quantiles"
    if tf_key == "scale_table":
        return "gaussian_conditional.scale_table"
    stem, leaf = tf_key.rsplit(".", 1)
    return f"{stem}.{'weight' if leaf == 'kernel' else leaf}"


def _to_tf_layout(tf_key: str, value: np.ndarray, upsampling: bool) -> np.ndarray:
    if tf_key.endswith(".kernel"):
        # Conv2d: out×in×kh×kw; ConvTranspose2d: in×out×kh×kw → kh×kw×in×out
        return value.transpose(2, 3, 0, 1) if upsampling else value.transpose(2, 3, 1, 0)
    if tf_key.endswith(".gamma"):
        return value.T  # CompressAI: norm_i = β_i + Σ_j γ_ij x_j²; tfc: Σ_j x_j² γ_ji
    if tf_key == "quantization_offset":
        return value[:, 0, 1]  # quantiles (C×1×3): lower tail, median, upper tail
    return value


def _upsampling_layers(model: CNNModel) -> set[str]:
    return {layer.name for sequential in model.transforms.values()
            for layer in sequential.layers if getattr(layer, "corr", True) is False}


def _mask_problems(state: dict[str, np.ndarray], used: set[str]) -> list[str]:
    """The context model's mask must be the type-A one (``1`` at the causal taps only)."""
    problems = []
    for key in [key for key in state if key.endswith(MASK_SUFFIX)]:
        used.add(key)
        mask = np.asarray(state[key])
        kernel = int(mask.shape[-1]) if mask.ndim == 4 else 0
        expected = np.zeros(mask.shape[-2:] if kernel else (0, 0), bool)
        for row, column in layers.causal_taps(kernel) if kernel else ():
            expected[row, column] = True
        if mask.ndim != 4 or mask.shape[-2] != kernel or not np.array_equal(
                mask != 0, np.broadcast_to(expected, mask.shape)):
            problems.append(f"{key} is not the type-A mask of a {kernel}×{kernel} kernel")
    return problems


def assign_compressai_state(model: CNNModel, state: dict[str, np.ndarray]) -> None:
    """Copy a CompressAI ``state_dict`` (numpy arrays) into ``model``; see the module table."""
    upsampling = _upsampling_layers(model)
    used: set[str] = set()
    problems = _mask_problems(state, used)
    for tf_key, variable in named_variables(model).items():
        torch_key = _torch_key(tf_key)
        if torch_key not in state:
            problems.append(f"missing {torch_key} (for {tf_key})")
            continue
        used.add(torch_key)
        value = _to_tf_layout(tf_key, np.asarray(state[torch_key], dtype=np.float32),
                              tf_key.rsplit(".", 1)[0] in upsampling)
        if tuple(value.shape) != tuple(variable.shape):
            problems.append(f"{torch_key} has shape {value.shape}, {tf_key} needs "
                            f"{tuple(variable.shape)}")
            continue
        variable.assign(value)
    unused = sorted(key for key in state if key not in used
                    and not key.endswith(IGNORED_TORCH_SUFFIXES))
    pedestals = [key for key in state if key.endswith("reparam.pedestal")
                 and not np.allclose(state[key], PEDESTAL, rtol=1e-6)]
    if pedestals:
        problems.append(f"GDN reparameterisation offset differs from tfc's in {pedestals[0]}")
    if unused:
        problems.append(f"no TF counterpart for {', '.join(unused)}")
    if problems:
        raise ConversionError("cannot convert: " + "; ".join(problems))
    _check_scale_table(model)


def _check_scale_table(model: CNNModel) -> None:
    if model.prior == "factorized":
        return
    logs = np.log(model.scale_table.numpy().astype(np.float64))
    if not np.allclose(np.diff(logs), (logs[-1] - logs[0]) / (len(logs) - 1), rtol=1e-4):
        raise ConversionError("the Gaussian scale table is not log-uniform; the TF model "
                              "indexes scales as exp(log s_0 + i·Δ)")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def model_from_torch_weights(path: Path) -> tuple[CNNModel, dict[str, str]]:
    """The TF model of a torch weights file, converted in memory."""
    metadata = weights_format.read_metadata(path)
    entry = learned_model(metadata["model"])
    model = CNNModel(entry.prior, int(metadata["N"]), int(metadata["M"]),
                     int(metadata.get("decoder_N", 0)), weights_format.rate_points(path, metadata),
                     entry.architecture)
    state = {name: value.astype(np.float32) if value.dtype.kind == "f" else value
             for name, value in _read_safetensors(path).items()}
    assign_compressai_state(model, state)
    return model, metadata


def save_tf_weights(model: CNNModel, coders: EntropyCoders, path: Path,
                    metadata: dict[str, str], half_kernels: bool = False) -> None:
    """Write ``model`` and its range-coding tables as a TF weights file (atomically).

    ``half_kernels`` stores convolution kernels as float16 (widened on load).
    """
    from safetensors.numpy import save_file

    tensors = {key: variable.numpy() for key, variable in named_variables(model).items()}
    if half_kernels:
        tensors = {key: value.astype(np.float16) if key.endswith(".kernel") else value
                   for key, value in tensors.items()}
    tensors.update(coders.tables())
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata={
            **metadata, "format": FORMAT, "prior": model.prior, "N": str(model.N),
            "M": str(model.M), **({"decoder_N": str(model.decoder_N)} if model.decoder_N else {})})
        os.chmod(partial, 0o644)


def read_tf_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a TF weights file (refuses any other file)."""
    return weights_format.read_metadata(path, FORMAT)


def _architecture(path: Path, metadata: dict[str, str]) -> str:
    """The transforms' plan of the model a TF weights file names (the model table's)."""
    try:
        return learned_model(metadata.get("model", "")).architecture
    except ValueError as exc:
        raise ConversionError(f"{path}: {exc}") from None


def load_tf_weights(path: Path) -> tuple[CNNModel, EntropyCoders, dict[str, str]]:
    """``(model, coders, metadata)`` of a TF weights file, with its stored tables."""
    metadata = read_tf_metadata(path)
    tensors = _read_safetensors(path)
    model = CNNModel(metadata["prior"], int(metadata["N"]), int(metadata["M"]),
                     int(metadata.get("decoder_N", 0)), weights_format.rate_points(path, metadata),
                     _architecture(path, metadata))
    for key, variable in named_variables(model).items():
        if key not in tensors:
            raise ConversionError(f"{path} lacks {key}")
        variable.assign(tensors[key].astype(np.float32))
    tables = {key: tensors[key] for key in TABLE_KEYS if key in tensors}
    return model, EntropyCoders(model, tables or None), metadata


def convert_torch_file(source: Path, destination: Path) -> Path:
    """``codecbench convert``: write the TF weights file of a torch weights file."""
    model, metadata = model_from_torch_weights(source)
    coders = EntropyCoders(model)
    keep = {k: v for k, v in metadata.items() if k not in ("format", "class")}
    keep["source"] = weights_format.weights_id(source).hex()
    keep["converted_with"] = f"tensorflow {tf.__version__}"
    save_tf_weights(model, coders, destination, keep)
    return destination
