"""The network of Mentzer et al. (2018) as plain data, read by both frameworks (framework-free).

"Conditional probability models for deep image compression", with the sizes of a
:class:`~codecbench.codecs.learned.models.ConditionalModel` (width ``N``, ``R`` residual
blocks, ``K`` code channels, ``L`` centres, ``F`` context filters); every step names
its torch module (``state_dict`` prefix), so
:mod:`codecbench.codecs.learned.context.torch.network` and
:mod:`codecbench.codecs.learned.context.tf.network` are two readings of one plan::

    encoder   x ↦ 2x − 1; 5×5 conv /2 3 → N/2, ReLU, 5×5 conv /2 N/2 → N, ReLU,
              R × residual (x + conv3×3(ReLU(conv3×3(x)))), 5×5 conv /2 N → K + 1
    decoder   3×3 conv K → 4N, ×2 shuffle, ReLU, R × residual, 3×3 conv N → 4·N/2,
              ×2 shuffle, ReLU, 3×3 conv N/2 → 4·3, ×2 shuffle, sigmoid
    context   on the D = K slices of the volume (values v, mask m; N×1×D×h×w):
              h = ReLU(values(v shifted: sees slices d−2, d−1) + mask(m: d−1 … d+1)),
              (layers − 2) × ReLU(3-D conv over slices d−1, d), out: slices d−1, d → L

Every 3-D kernel is ``taps × 3 × 3`` with zero padding 1 in space; in depth the input
is zero-padded ``before`` slices in front and ``after`` behind (:class:`DepthConv`), so
the output at slice ``d`` never sees a value of slice ``≥ d``: the context model is
causal in depth, and its output at ``d`` depends on slices ``d − reach_back … d − 1``
of the values (:func:`reach`).
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import (
    Activation,
    Conv,
    Shape,
    Shuffle,
    Step,
    parameters,
)

ENCODER, DECODER, CONTEXT = "encoder", "decoder", "context"


@dataclass(frozen=True)
class Residual(Step):
    """``x + body(x)``; the body's steps are named ``<name>.body.<i>``."""

    name: str
    body: tuple[Step, ...]

    def parameters(self) -> dict[str, Shape]:
        return parameters(self.body)


@dataclass(frozen=True)
class DepthConv(Step):
    """A 3-D convolution ``name`` over (slice, row, column): kernel ``taps×3×3``, spatial
    zero padding 1, the depth padded ``before`` slices in front and
    ``after = taps − 1 − before`` behind (negative: that many last slices dropped), so the
    depth is kept and the output at slice ``d`` sees the input slices
    ``d − before … d + after``."""

    name: str
    in_channels: int
    out_channels: int
    taps: int
    before: int
    bias: bool = True

    @property
    def after(self) -> int:
        return self.taps - 1 - self.before

    def parameters(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {
            f"{self.name}.weight": (self.out_channels, self.in_channels, self.taps, 3, 3)}
        if self.bias:
            shapes[f"{self.name}.bias"] = (self.out_channels,)
        return shapes


@dataclass(frozen=True)
class ContextPlan:
    """The context model: the first layer's two branches, the hidden layers, the output."""

    values: DepthConv
    mask: DepthConv
    hidden: tuple[DepthConv, ...]
    out: DepthConv

    def layers_after_first(self) -> tuple[DepthConv, ...]:
        return (*self.hidden, self.out)


@dataclass(frozen=True)
class ConditionalPlan:
    """Every step of one network."""

    encoder: tuple[Step, ...]
    decoder: tuple[Step, ...]
    context: ContextPlan

    def parameters(self) -> dict[str, Shape]:
        """Every parameter: torch ``state_dict`` name → torch shape (the learned centres,
        ``centres`` of shape ``(L,)``, are not a step)."""
        context = self.context
        return parameters([*self.encoder, *self.decoder, context.values, context.mask,
                           *context.layers_after_first()])


def residual(name: str, channels: int) -> Residual:
    return Residual(name, (Conv(f"{name}.body.0", channels, channels, 3),
                           Activation(f"{name}.body.1", "relu"),
                           Conv(f"{name}.body.2", channels, channels, 3)))


def encoder_plan(width: int, blocks: int, code_channels: int) -> tuple[Step, ...]:
    half = width // 2
    steps: list[Step] = [Conv(f"{ENCODER}.0", 3, half, 5, stride=2),
                         Activation(f"{ENCODER}.1", "relu"),
                         Conv(f"{ENCODER}.2", half, width, 5, stride=2),
                         Activation(f"{ENCODER}.3", "relu")]
    steps += [residual(f"{ENCODER}.{4 + i}", width) for i in range(blocks)]
    steps.append(Conv(f"{ENCODER}.{4 + blocks}", width, code_channels + 1, 5, stride=2))
    return tuple(steps)


def decoder_plan(width: int, blocks: int, code_channels: int) -> tuple[Step, ...]:
    half = width // 2
    steps: list[Step] = [Conv(f"{DECODER}.0", code_channels, 4 * width, 3), Shuffle(2),
                         Activation(f"{DECODER}.2", "relu")]
    steps += [residual(f"{DECODER}.{3 + i}", width) for i in range(blocks)]
    first = 3 + blocks
    steps += [Conv(f"{DECODER}.{first}", width, 4 * half, 3), Shuffle(2),
              Activation(f"{DECODER}.{first + 2}", "relu"),
              Conv(f"{DECODER}.{first + 3}", half, 4 * 3, 3), Shuffle(2)]
    return tuple(steps)


def context_plan(centres: int, filters: int, layers: int) -> ContextPlan:
    if layers < 2:
        raise ValueError(f"the context model needs at least 2 layers, got {layers}")
    hidden = tuple(DepthConv(f"{CONTEXT}.hidden.{i}", filters, filters, 2, 1)
                   for i in range(layers - 2))
    return ContextPlan(values=DepthConv(f"{CONTEXT}.values", 1, filters, 2, 2, bias=False),
                       mask=DepthConv(f"{CONTEXT}.mask", 1, filters, 3, 1),
                       hidden=hidden, out=DepthConv(f"{CONTEXT}.out", filters, centres, 2, 1))


def conditional_plan(width: int, blocks: int, code_channels: int, centres: int,
                     filters: int, layers: int) -> ConditionalPlan:
    """The plan of a network of these sizes."""
    return ConditionalPlan(encoder_plan(width, blocks, code_channels),
                           decoder_plan(width, blocks, code_channels),
                           context_plan(centres, filters, layers))


def reach(plan: ContextPlan) -> tuple[int, int]:
    """``(back, ahead)``: the output at slice ``d`` depends on the values of slices
    ``d − back … d − 1`` and on the mask of slices ``d − back … d + ahead``."""
    later = plan.layers_after_first()
    back = plan.values.before + sum(layer.before for layer in later)
    ahead = max(plan.mask.after, plan.values.after) + sum(layer.after for layer in later)
    return back, ahead
