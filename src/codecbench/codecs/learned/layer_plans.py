"""The vocabulary of layer plans: networks written once as plain data (framework-free).

A *plan* lists a network's steps in execution order; each step names the PyTorch module
it is (its ``state_dict`` prefix) and the parameters it owns, with their torch shapes. The
PyTorch module and its TensorFlow twin are two readings of the same plan, so a torch
``state_dict`` converts to the twin name for name and nothing is written twice. The
families' plans (:mod:`codecbench.codecs.learned.recurrent.layers`,
:mod:`codecbench.codecs.learned.hyperprior.layers`) share the steps below:

* :class:`Step` — the base: a step without parameters (an activation, a pixel shuffle);
* :class:`Conv` — a 2-D convolution or transposed convolution with zero padding
  ``kernel // 2`` on every side (PyTorch's ``padding=k//2``; the transposed one adds
  ``output_padding = stride − 1``, so a stride-``s`` layer scales sizes by exactly ``s``);
* :class:`PatchConv` — a convolution of non-overlapping ``k×k`` patches (stride ``k``, no
  padding);
* :class:`Activation` — ``relu``, ``leaky_relu``, ``sigmoid``;
* :class:`Shuffle` — PyTorch's pixel shuffle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Shape = tuple[int, ...]


class Step:
    """One step of a plan; :meth:`parameters` maps ``state_dict`` names to torch shapes."""

    def parameters(self) -> dict[str, Shape]:
        return {}


@dataclass(frozen=True)
class Conv(Step):
    """A convolution named ``name``: ``name.weight`` (``out×in×k×k``, transposed
    ``in×out×k×k`` as ``nn.ConvTranspose2d`` stores it) and, with ``bias``, ``name.bias``."""

    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    bias: bool = True
    transposed: bool = False

    @property
    def padding(self) -> int:
        return self.kernel // 2

    @property
    def output_padding(self) -> int:
        return self.stride - 1 if self.transposed else 0

    def parameters(self) -> dict[str, Shape]:
        channels = ((self.in_channels, self.out_channels) if self.transposed
                    else (self.out_channels, self.in_channels))
        shapes: dict[str, Shape] = {f"{self.name}.weight": (*channels, self.kernel, self.kernel)}
        if self.bias:
            shapes[f"{self.name}.bias"] = (self.out_channels,)
        return shapes


@dataclass(frozen=True)
class PatchConv(Conv):
    """A convolution of non-overlapping ``kernel×kernel`` patches: stride ``kernel``, no
    padding (a ``kernel``-fold downsampling)."""

    @property
    def padding(self) -> int:
        return 0


@dataclass(frozen=True)
class Activation(Step):
    """An elementwise activation ``kind``; ``name`` is its module's name (it owns nothing)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Shuffle(Step):
    """PyTorch's pixel shuffle: ``C·r²×H×W`` → ``C×rH×rW``."""

    factor: int = 2


def parameters(steps: Iterable[Step]) -> dict[str, Shape]:
    """Every parameter the ``steps`` own, in order: ``state_dict`` name → torch shape."""
    return {name: shape for step in steps for name, shape in step.parameters().items()}
