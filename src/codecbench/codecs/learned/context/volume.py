"""The coded volume of Mentzer et al. (2018): importance levels, masks, symbols, and the
per-slice probabilities of the context model, numpy only (both frameworks' codecs use it).

* Rate point ``q`` keeps ``ℓ = min(⌈K_q · y⌉, K_q)`` of the ``K`` channels at a position
  (``y ∈ (0, 1)`` the importance map, ``K_q`` the rate point's channel budget): the mask
  is ``m_{k} = 1[k < ℓ]``, channels as the depth ``d = k`` of a ``K × h × w`` volume.
* The symbols are the indexes of the nearest of the ``L`` learned centres; the decoder's
  volume is ``v = c[s] · m`` (zero where masked).
* Slice ``d``'s probabilities are computed on a window of the volume around it, slices
  ``≥ d`` of ``v`` zeroed (:func:`context_window`): exactly what the decoder holds when
  it reaches slice ``d``; the encoder computes them the same way, so both quantise the
  same floats to the same 16-bit frequencies.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.entropy import categorical_codes


def levels(importance: np.ndarray, budget: int) -> np.ndarray:
    """``ℓ = min(⌈K_q · y⌉, K_q)`` (int64) of an ``h × w`` importance map in (0, 1)."""
    scaled = np.ceil(np.asarray(importance, dtype=np.float64) * budget)
    return np.clip(scaled, 0, budget).astype(np.int64)


def mask_of(levels_map: np.ndarray, channels: int) -> np.ndarray:
    """``m[k, i, j] = 1[k < ℓ[i, j]]`` (bool, ``K × h × w``)."""
    return np.arange(channels)[:, None, None] < levels_map[None]


def nearest_centres(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of the nearest centre of every value of ``z`` (int64; ties: the first)."""
    distances = np.abs(np.asarray(z, np.float32)[..., None] - np.asarray(centres, np.float32))
    return np.argmin(distances, axis=-1).astype(np.int64)


def context_window(values: np.ndarray, mask: np.ndarray, depth: int, back: int,
                   ahead: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(values, mask, index of slice depth)`` of the window of slices
    ``depth − back … depth + ahead`` (clipped to the volume), the values of slices ``≥
    depth`` zeroed. A context model whose output at slice ``d`` reads only these slices
    (:func:`codecbench.codecs.learned.context.layers.reach`) gives the same output on the
    window as on the whole volume."""
    first, stop = max(0, depth - back), min(len(values), depth + ahead + 1)
    window = np.array(values[first:stop], dtype=np.float32)
    window[depth - first:] = 0.0
    return window, np.asarray(mask[first:stop], dtype=np.float32), depth - first


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 of ``n × L`` logits."""
    shifted = np.asarray(logits, np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def slice_rows(probabilities: np.ndarray) -> np.ndarray:
    """The coder's cumulative rows (one per symbol) of ``n × L`` probabilities."""
    if not len(probabilities):
        return np.zeros((0, probabilities.shape[1] + 1), np.int64)
    return categorical_codes.cumulative(probabilities)


def symbol_bits(probabilities: np.ndarray, symbols: np.ndarray) -> float:
    """``Σ −log2 p(s)`` of coded symbols under their rows of probabilities."""
    if not len(symbols):
        return 0.0
    return float(-np.log2(probabilities[np.arange(len(symbols)), symbols]).sum())
