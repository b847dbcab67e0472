"""The GC network's layers as plain data, built by both frameworks (framework-free).

Agustsson et al. (2019), with the choices of :mod:`codecbench.codecs.learned.generative.torch.network`:
each plan is a list of steps, and step ``i`` of the encoder (generator) owns the
weights ``encoder.<i>.*`` (``generator.<i>.*``) in the torch ``state_dict``, so the
PyTorch modules and the TensorFlow twin are two readings of the same list:

* ``("conv", in, out, kernel, stride)`` — convolution with bias, zero padding
  ``kernel // 2`` on every side;
* ``("norm", channels)`` — instance normalisation without affine parameters, ε = 10⁻⁵;
* ``("relu",)``;
* ``("residual", channels)`` — ``x + body(x)``, body = :func:`residual_plan`
  (weights ``<i>.body.<j>.*``);
* ``("shuffle",)`` — ×2 pixel shuffle in PyTorch's channel order.
"""

from __future__ import annotations

INSTANCE_NORM_EPS = 1e-5


def encoder_plan(widths, channels: int) -> list[tuple]:
    """7×7 conv, four stride-2 3×3 convs (each with norm and ReLU), 3×3 conv to C."""
    plan = [("conv", 3, widths[0], 7, 1), ("norm", widths[0]), ("relu",)]
    for a, b in zip(widths, widths[1:], strict=False):
        plan += [("conv", a, b, 3, 2), ("norm", b), ("relu",)]
    return [*plan, ("conv", widths[-1], channels, 3, 1)]


def generator_plan(widths, residual_blocks: int, channels: int) -> list[tuple]:
    """3×3 conv from C, residual blocks, four (conv to 4×, shuffle, norm, ReLU), 7×7 to RGB."""
    plan = [("conv", channels, widths[-1], 3, 1), ("norm", widths[-1]), ("relu",)]
    plan += [("residual", widths[-1])] * residual_blocks
    for a, b in zip(widths[::-1], widths[-2::-1], strict=False):
        plan += [("conv", a, 4 * b, 3, 1), ("shuffle",), ("norm", b), ("relu",)]
    return [*plan, ("conv", widths[0], 3, 7, 1)]


def residual_plan(channels: int) -> list[tuple]:
    return [("conv", channels, channels, 3, 1), ("norm", channels), ("relu",),
            ("conv", channels, channels, 3, 1), ("norm", channels)]
