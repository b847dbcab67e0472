"""Torch weights files of the hyperprior family: build, load and save a CompressAI model.

The file (:mod:`codecbench.codecs.learned.weights_format`, found by
:mod:`codecbench.codecs.learned.weights_locator`) holds a CompressAI model's
``state_dict`` *after* ``model.update()``, so the learned CDF tables of the factorized
(hyper)prior travel with the weights. The Gaussian conditional's CDF table is left out: it
is a function of the scale table alone (a discretised unit normal per scale, not learned),
about 0.8 MB, and is rebuilt by CompressAI at load time. Its string metadata::

    format     "codecbench-torch-weights/1"
    model      table slug, e.g. "bmshj2018-hyperprior"
    class      CompressAI class, e.g. "ScaleHyperprior"
    N, M       channel counts
    decoder_N  width of a distilled (narrower) synthesis transform, when present
    quality    rate point (1-based) the weights were trained for (``0``: every rate point)
    lambda     λ of the training loss (a variable-rate file: the λ of every rate point,
               comma-separated)
    rate_points  only in a variable-rate file (one network for every rate point, with
               gain units, :mod:`.gains`): their count ``Q``
    metric     distortion of the training loss ("mse" or "ms-ssim")

Convolution kernels may be stored as float16 to keep the weights small; they are widened
to float32 on load, identically on every machine, so every number the codec reports is
measured with exactly the shipped weights. Imports torch only inside the functions.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.torch.weights import save_tensors
from codecbench.codecs.learned.weights_format import read_metadata
from codecbench.frameworks.files import WeightsFileError, error_detail


def build_model(class_name: str, N: int, M: int, decoder_N: int = 0, rate_points: int = 0):
    """A fresh CompressAI model of class ``class_name`` with ``N``/``M`` channels.

    ``decoder_N`` (when non-zero and not ``N``) replaces the synthesis transform ``g_s``
    by the same layers at width ``decoder_N`` (a distilled student decoder);
    ``rate_points`` (when non-zero) adds gain units for that many rate points (:mod:`.gains`).
    """
    from codecbench.codecs.learned.hyperprior.torch import gains

    model = _model_class(class_name)(N=N, M=M)
    if decoder_N and decoder_N != N:
        model.g_s = synthesis_transform(M, decoder_N)
    if rate_points:
        gains.attach(model, rate_points, M)
    return model


OWN_CLASSES = {"AttentionHyperprior": "codecbench.codecs.learned.hyperprior.torch.attention"}
"""Model classes of ours (CompressAI style), by class name → module; every other class
name is one of ``compressai.models``."""


def _model_class(class_name: str):
    import importlib

    import compressai.models

    if class_name in OWN_CLASSES:
        return getattr(importlib.import_module(OWN_CLASSES[class_name]), class_name)
    return getattr(compressai.models, class_name)


def synthesis_transform(M: int, N: int):
    """Ballé's synthesis ``g_s`` as CompressAI's hyperprior models build it, read off the
    plan (:func:`codecbench.codecs.learned.hyperprior.layers.synthesis`): three stride-2
    5×5 transposed convolutions with inverse GDN, then one to RGB."""
    from torch import nn

    from codecbench.codecs.learned.hyperprior import layers
    from codecbench.codecs.learned.hyperprior.torch.modules import module_of

    return nn.Sequential(*(module_of(step) for step in layers.synthesis(M, N)))


REBUILT_BUFFERS = ("gaussian_conditional._quantized_cdf", "gaussian_conditional._offset",
                   "gaussian_conditional._cdf_length")
"""Buffers not stored: rebuilt from ``gaussian_conditional.scale_table`` on load."""


def load_model(path: Path):
    """``(model, metadata)``: the CompressAI model in eval mode on the CPU, with its CDFs."""
    from safetensors.torch import load_file

    metadata = read_metadata(path)
    points = weights_format.rate_points(path, metadata)
    try:
        model = build_model(metadata["class"], int(metadata["N"]), int(metadata["M"]),
                            int(metadata.get("decoder_N", 0)), points)
    except (KeyError, ValueError, AttributeError) as exc:
        raise WeightsFileError(f"{path}: its metadata names no model codecbench can build "
                               f"({error_detail(exc)})") from None
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({error_detail(exc)})") from None
    state = {name: tensor.float() if tensor.is_floating_point() else tensor
             for name, tensor in tensors.items()}
    try:
        if "gaussian_conditional.scale_table" in state:
            conditional = model.gaussian_conditional
            # the tables are a function of the scale table and of the conditional's own
            # learned parameters (a Gaussian-scale mixture's shape): load those, then
            # build the tables once
            prefix = "gaussian_conditional."
            conditional.load_state_dict(
                {name: state[prefix + name] for name, _ in conditional.named_parameters()
                 if prefix + name in state}, strict=False)
            conditional.update_scale_table(state[prefix + "scale_table"], force=True)
            for name in REBUILT_BUFFERS:
                state.setdefault(name, getattr(conditional, name.split(".", 1)[1]))
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsFileError(f"{path}: its tensors do not fit a {metadata['class']} "
                               f"model ({str(exc).splitlines()[0]})") from None
    model.eval()
    return model, metadata


def save_model(model, path: Path, metadata: dict[str, str], half_kernels: bool = False) -> None:
    """Write ``model`` (after ``model.update(force=True)``) as a weights file.

    ``half_kernels`` stores 4-D convolution kernels as float16 (half the size; the
    codec measures whatever was stored). Written to a temporary name, then renamed.
    """
    model.update(force=True)
    state = {name: tensor for name, tensor in model.state_dict().items()
             if name not in REBUILT_BUFFERS}
    save_tensors(state, path, metadata, half_kernels)

