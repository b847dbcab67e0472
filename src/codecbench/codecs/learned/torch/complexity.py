"""Parameters and multiply–accumulates (MACs) of the learned codecs' networks.

Measured, not estimated from formulas: each side of a codec is run once on a
``MEASURE_SIZE × MEASURE_SIZE`` image (its latents for the decoder) under
``torch.utils.flop_counter.FlopCounterMode``, which counts the floating-point operations
of convolutions and matrix products (``2 × MACs``; element-wise operations, GDN's
square root and the entropy coder are not counted). The parameters are those of every
module that ran (each counted once), so a module both sides run (a hyperprior's
``h_s``, the recurrent decoder inside the recurrent encoder's loop) counts on both.

* CNN / HiFiC models: encoder = ``g_a``, ``h_a``, ``h_s`` (plus the context model and
  entropy parameters of the autoregressive prior); decoder = ``h_s`` (and those) and
  ``g_s``. Entropy-model tables (the factorised density, CDFs) are not transforms and
  are not counted.
* Recurrent models at ``k`` iterations: the encoder runs encoder *and* decoder ``k``
  times (it needs each reconstruction); the decoder runs the decoder ``k`` times.
* GC: encoder ``E`` and quantiser; decoder ``G``.
* WaveOne: the pyramidal analysis; the synthesis (the same at every bitplane count).
* Tiled (Minnen 2017) at rate point ``q``, every tile taking the rate point's cap ``k``
  of iterations (the most it may spend): encoder = context network and ``k`` times the
  residual encoder and decoder; decoder = context network and ``k`` residual decodes.
* Code-space predictor: the analysis and every level's predictor; the predictors and the
  synthesis (the same at every rate point).
* Mentzer 2018 at rate point ``q`` (budget ``K_q``): encoder = ``E`` and the ``K_q``
  context-model passes on their windows of the volume (the encoder computes the
  probabilities as the decoder does); decoder = the same passes and ``D``.

MACs are reported per pixel of the input (``kMAC/px`` in the model cards), which makes
them independent of the image size up to border effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
from torch.nn.modules.module import register_module_forward_hook
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from codecbench.codecs.learned.models import (
        GenerativeModel,
        LearnedModel,
        RecurrentModel,
        WaveOneModel,
    )

MEASURE_SIZE = 256


def measure(call) -> tuple[int, int]:
    """``(parameters, MACs)`` of what ``call()`` runs."""
    executed = []
    handle = register_module_forward_hook(lambda module, inputs, output:
                                          executed.append(module))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            call()
    finally:
        handle.remove()
    parameters = {id(p): p.numel() for module in executed for p in module.parameters(recurse=False)}
    return sum(parameters.values()), counter.get_total_flops() // 2


def record(encoder: tuple[int, int], decoder: tuple[int, int], pixels: int) -> dict:
    return {"encoder_params": encoder[0], "decoder_params": decoder[0],
            "encoder_kmacs_per_pixel": round(encoder[1] / pixels / 1000, 3),
            "decoder_kmacs_per_pixel": round(decoder[1] / pixels / 1000, 3)}


def compressai_model(entry) -> dict:
    """A CNN-table model (CompressAI architecture at the table's widths)."""
    from codecbench.codecs.learned.hyperprior.torch.weights import build_model

    model = build_model(entry.compressai_class, entry.N, entry.M, entry.decoder_N).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE)
    with torch.no_grad():
        y = model.g_a(x)
        z = model.h_a(y) if entry.prior != "factorized" else None

    def side_information(latent):
        params = model.h_s(torch.round(cast(torch.Tensor, z)))  # not None: only hyperpriors call this
        if entry.prior == "autoregressive":
            context = model.context_prediction(latent)
            model.entropy_parameters(torch.cat([params, context], dim=1))

    def encoder():
        latent = model.g_a(x)
        if entry.prior != "factorized":
            model.h_a(latent)
            side_information(torch.round(latent))

    def decoder():
        if entry.prior != "factorized":
            side_information(torch.round(y))
        model.g_s(torch.round(y))

    return record(measure(encoder), measure(decoder), MEASURE_SIZE**2)


def recurrent_model(entry, iterations: int) -> dict:
    """A recurrent-table model at ``iterations`` (its rate point)."""
    from codecbench.codecs.learned.recurrent.torch.network import (
        RecurrentCompressor,
        decoder_widths,
        encoder_widths,
    )

    network = RecurrentCompressor(entry, encoder_widths(entry), decoder_widths(entry)).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE) - 0.5
    with torch.no_grad():
        codes, _ = network(x, iterations, stochastic=False)
    return record(measure(lambda: network(x, iterations, stochastic=False)),
                  measure(lambda: network.decode(codes)), MEASURE_SIZE**2)


def generative_model(entry, quality: int) -> dict:
    """GC at rate point ``quality`` (``C`` bottleneck channels)."""
    from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor

    network = GenerativeCompressor(entry, entry.channels_of(quality)).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE)
    with torch.no_grad():
        y_hat, _ = network.quantise(network.analysis(x))
    return record(measure(lambda: network.quantise(network.analysis(x))),
                  measure(lambda: network.synthesis(y_hat)), MEASURE_SIZE**2)


def waveone_model(entry) -> dict:
    """WaveOne (the same network at every rate point; entropy coding not counted)."""
    from codecbench.codecs.learned.waveone.torch.network import WaveOne

    network = WaveOne(entry).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE)
    with torch.no_grad():
        y_hat, _ = network.quantise(network.analysis(x), entry.bitplanes)
    return record(measure(lambda: network.analysis(x)),
                  measure(lambda: network.synthesis(y_hat)), MEASURE_SIZE**2)


def codespace_model(entry) -> dict:
    """The code-space predictor (the same network at every rate point): encoder = analysis
    and every level's predictor (it codes with the decoder's predictions), decoder = the
    predictors and the synthesis; entropy coding not counted."""
    from codecbench.codecs.learned.codespace.torch.network import CodeSpace

    network = CodeSpace(entry).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE)
    with torch.no_grad():
        y_hat = torch.round(network.analysis(x))

    def predictors():
        for level in range(entry.levels):
            network.predict(level, y_hat[:, :, ::2 ** (level + 1), ::2 ** (level + 1)])

    def encoder():
        network.analysis(x)
        predictors()

    def decoder():
        predictors()
        network.synthesis(y_hat)

    return record(measure(encoder), measure(decoder), MEASURE_SIZE**2)


def conditional_model(entry, quality: int) -> dict:
    """Mentzer et al. 2018 at rate point ``quality``: ``K_q`` context passes on windows
    of a full volume (the most a rate point runs); entropy coding not counted."""
    from codecbench.codecs.learned.context import volume
    from codecbench.codecs.learned.context.layers import reach
    from codecbench.codecs.learned.context.torch.network import ConditionalNetwork

    network = ConditionalNetwork(entry).eval()
    x = torch.rand(1, 3, MEASURE_SIZE, MEASURE_SIZE)
    side = MEASURE_SIZE // entry.padding_multiple
    values = torch.rand(entry.code_channels, side, side).numpy()
    mask = torch.ones(entry.code_channels, side, side).numpy()
    z_hat = torch.rand(1, entry.code_channels, side, side)

    def passes():
        for depth in range(entry.budget_of(quality)):
            window, window_mask, _ = volume.context_window(values, mask, depth,
                                                           *reach(network.plan.context))
            network.context(torch.from_numpy(window)[None], torch.from_numpy(window_mask)[None])

    def encoder():
        network.analysis(x)
        passes()

    def decoder():
        passes()
        network.synthesis(z_hat)

    return record(measure(encoder), measure(decoder), MEASURE_SIZE**2)


def tiled_model(entry, quality: int) -> dict:
    """The tiled codec at rate point ``quality``, every tile at the cap (the 8×8 tiles of
    the measured image as one batch; entropy coding not counted)."""
    from codecbench.codecs.learned.tiled.torch.network import TiledNetwork

    network = TiledNetwork(entry).eval()
    s, cap = entry.tile, entry.caps[quality - 1]
    count = (MEASURE_SIZE // s) ** 2
    contexts = torch.rand(count, 4, 2 * s, 3 * s)
    x = torch.rand(count, 3, s, s)

    def encoder():
        x_hat = network.predict(contexts)
        for t in range(cap):
            x_hat = x_hat + network.decode(network.encode(x - x_hat, t), t)

    def decoder():
        network.predict(contexts)
        for t in range(cap):
            network.decode(torch.ones(count, network.plan.code_channels, s // 8, s // 8), t)

    return record(measure(encoder), measure(decoder), MEASURE_SIZE**2)


def all_models() -> dict:
    """``{slug: {quality: record}}`` for every model of the tables."""
    from codecbench.codecs.learned.models import (
        CODESPACE_MODELS,
        CONDITIONAL_MODELS,
        GENERATIVE_MODELS,
        LEARNED_MODELS,
        RECURRENT_MODELS,
        TILED_MODELS,
        WAVEONE_MODELS,
    )

    table = {}
    entry: LearnedModel | RecurrentModel | GenerativeModel | WaveOneModel  # one per table
    for slug, entry in LEARNED_MODELS.items():
        measured = compressai_model(entry)
        table[slug] = {str(q): measured for q in entry.qualities}
    for slug, entry in RECURRENT_MODELS.items():
        table[slug] = {str(q): recurrent_model(entry, q) for q in entry.qualities}
    for slug, entry in GENERATIVE_MODELS.items():
        table[slug] = {str(q): generative_model(entry, q) for q in entry.qualities}
    for slug, entry in WAVEONE_MODELS.items():
        measured = waveone_model(entry)
        table[slug] = {str(q): measured for q in entry.qualities}
    for slug, codespace in CODESPACE_MODELS.items():
        measured = codespace_model(codespace)
        table[slug] = {str(q): measured for q in codespace.qualities}
    for slug, tiled in TILED_MODELS.items():
        table[slug] = {str(q): tiled_model(tiled, q) for q in tiled.qualities}
    for slug, conditional in CONDITIONAL_MODELS.items():
        table[slug] = {str(q): conditional_model(conditional, q) for q in conditional.qualities}
    return table
