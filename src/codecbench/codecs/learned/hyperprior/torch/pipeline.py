"""Compress and decompress one image with a CompressAI model (imports torch).

The entropy coding is CompressAI's own ``model.compress`` / ``model.decompress`` (rANS,
``EntropyBottleneck``, ``GaussianConditional``); this module adds what a codec needs
around it:

* **Any image size.** The image is padded on the right and bottom to a multiple of 64
  (the models downsample by 16, the hyperprior by 4 more) by repeating the edge
  pixels — cheaper to code than zeros — and the decoded image is cropped back.
* **Device placement that keeps files portable.** Only the analysis and synthesis
  transforms ``g_a`` and ``g_s`` run on the chosen device (e.g. ``cuda``); the hyper
  transforms, the context model and every entropy parameter the decoder must
  reproduce are computed on the CPU. A file encoded on a GPU therefore decodes on a
  CPU and vice versa (the reconstruction may differ by float rounding, never the
  decoded latents).
* **The entropy model's estimate** ``Σ −log2 p(ŷ)`` of the coded latents, read from
  the tensors CompressAI computes while compressing (forward hooks), not by a second
  pass through the transforms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.torch import entropy_coding


class OnDevice(nn.Module):
    """Runs ``module`` on ``device``; its input and output stay on the CPU."""

    def __init__(self, module: nn.Module, device: torch.device):
        super().__init__()
        self.module = module.to(device)
        self.device = device

    def forward(self, x):
        return self.module(x.to(self.device)).to("cpu")


def place_transforms(model: nn.Module, device: str) -> nn.Module:
    """Move ``g_a``/``g_s`` of ``model`` to ``device``; everything else stays on the CPU."""
    target = torch.device(device)
    if target.type != "cpu":
        model.g_a = OnDevice(cast(nn.Module, model.g_a), target)
        model.g_s = OnDevice(cast(nn.Module, model.g_s), target)
    return model


def image_to_tensor(image: np.ndarray, multiple: int) -> torch.Tensor:
    """``H×W×3`` uint8 → ``1×3×H'×W'`` float in [0, 1], edge-padded to a multiple."""
    # the harness hands codecs read-only arrays: torch.tensor copies (from_numpy would warn)
    x = torch.tensor(image, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0).div_(255.0)
    height, width = image.shape[:2]
    pad_bottom = -height % multiple
    pad_right = -width % multiple
    if pad_bottom or pad_right:
        x = F.pad(x, (0, pad_right, 0, pad_bottom), mode="replicate")
    return x


def tensor_to_image(x_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
    """``1×3×H'×W'`` float → ``H×W×3`` uint8 (cropped, clamped, rounded)."""
    x_hat = x_hat[0, :, :height, :width].clamp(0.0, 1.0).mul(255.0).round()
    return x_hat.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


@dataclass
class Compressed:
    """What ``compress`` produced: one string and shape per latent, and the estimate."""

    strings: list[bytes]
    shapes: list[tuple[int, ...]]
    estimated_bits: float


class _Recorder:
    """Keeps the outputs of the named submodules while ``model.compress`` runs."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles = [getattr(model, name).register_forward_hook(self._hook(name))
                        for name in names if hasattr(model, name)]

    def _hook(self, name):
        def hook(module, inputs, output):
            self.outputs[name] = output
        return hook

    def close(self):
        for handle in self.handles:
            handle.remove()


def _bits(likelihoods: torch.Tensor) -> float:
    return float(-torch.log2(likelihoods).sum())


def compress(model: nn.Module, prior: str, x: torch.Tensor) -> Compressed:
    """Entropy-code ``x`` (``1×3×H×W``, padded) with ``model``; see the module docstring."""
    recorder = _Recorder(model, ("g_a", "h_a", "h_s"))
    captured_y_hat = []
    overridden = model.__dict__.get("_compress_ar")  # an instance-level override to restore
    if prior == "autoregressive":
        compress_ar = cast(Callable[..., Any], model._compress_ar)  # a CompressAI method

        def recording_compress_ar(y_hat, *args):
            string = compress_ar(y_hat, *args)
            captured_y_hat.append(y_hat)  # filled in place with the coded values
            return string

        # an instance-level method override; nn.Module.__setattr__ is typed for tensors and modules
        model._compress_ar = recording_compress_ar  # type: ignore[assignment]
    try:
        with torch.inference_mode():
            out = model.compress(x)  # type: ignore[operator]  # CompressAI method; nn.Module.__getattr__ types it Tensor | Module
            estimated_bits = _estimate(model, prior, recorder.outputs, captured_y_hat)
    finally:
        recorder.close()
        if prior == "autoregressive":
            if overridden is None:
                del model._compress_ar
            else:
                model._compress_ar = overridden
    y = recorder.outputs["g_a"]
    shapes = [tuple(y.shape[1:])]
    if "h_a" in recorder.outputs:
        shapes.append(tuple(recorder.outputs["h_a"].shape[1:]))
    strings = [group[0] for group in out["strings"]]
    return Compressed(strings, shapes, estimated_bits)


def _estimate(model, prior, outputs, captured_y_hat) -> float:
    """``Σ −log2 p`` of the coded latents, with CompressAI's eval-mode quantisation."""
    y = outputs["g_a"]
    if prior == "factorized":
        return _bits(model.entropy_bottleneck(y)[1])
    z_bits = _bits(model.entropy_bottleneck(outputs["h_a"])[1])
    params = outputs["h_s"]
    if prior == "hyperprior":
        scales, means = params, None
    elif prior == "mean-scale":
        scales, means = params.chunk(2, 1)
    elif prior == "autoregressive":
        padding = (model.context_prediction.weight.shape[-1] - 1) // 2
        y_hat = captured_y_hat[0][:, :, padding:-padding, padding:-padding]
        context = model.context_prediction(y_hat)
        scales, means = model.entropy_parameters(torch.cat((params, context), 1)).chunk(2, 1)
    else:
        raise ValueError(f"unknown prior {prior!r}")
    return z_bits + _bits(model.gaussian_conditional(y, scales, means=means)[1])


def decompress(model: nn.Module, strings: list[bytes], shapes: list[tuple[int, ...]]):
    """The reconstruction ``1×3×H'×W'`` (float, on the CPU) of :func:`compress`'s output.

    ``shapes`` must have been checked against the model and the image size (the codec's
    ``decode`` does): CompressAI sizes every tensor from the last one. Each string is
    padded for the rANS decoder (:mod:`codecbench.codecs.learned.torch.entropy_coding`)."""
    padded = [entropy_coding.padded_for_decoding(string, entropy_coding.symbols_of(shape), escape=True)
              for string, shape in zip(strings, shapes, strict=True)]
    with torch.inference_mode():
        out = model.decompress(  # type: ignore[operator]  # CompressAI method; nn.Module.__getattr__ types it Tensor | Module
            [[string] for string in padded], list(shapes[-1][-2:]))
    return out["x_hat"]
