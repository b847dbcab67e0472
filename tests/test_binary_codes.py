"""The binary context model of the recurrent codecs, against direct computations."""

import numpy as np
import pytest

from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling

pytestmark = pytest.mark.no_frameworks


def _direct_state(previous, c, i, j):
    """The context state of one bit by the definition (zero outside the grid)."""
    if previous is None:
        return 0
    height, width = previous.shape[1:]
    neighbours = sum(int(previous[c, i + di, j + dj])
                     for di in (-1, 0, 1) for dj in (-1, 0, 1)
                     if (di or dj) and 0 <= i + di < height and 0 <= j + dj < width)
    return 1 + 9 * int(previous[c, i, j]) + neighbours


def test_context_states_follow_the_definition():
    rng = np.random.default_rng(0)
    previous = (rng.random((3, 5, 7)) < 0.4).astype(np.uint8)
    states = binary_codes.context_states(previous, previous.shape)
    for c in range(3):
        for i in range(5):
            for j in range(7):
                assert states[c, i, j] == _direct_state(previous, c, i, j)
    assert (binary_codes.context_states(None, (3, 5, 7)) == 0).all()
    assert states.max() < binary_codes.CONTEXT_STATES


def test_counts_give_the_krichevsky_trofimov_estimate_and_the_estimate_is_its_code_length():
    rng = np.random.default_rng(1)
    bits = (rng.random((2, 4, 6, 6)) < 0.3).astype(np.uint8)
    counts = binary_codes.ContextCounts(iterations=2, channels=4)
    counts.add(bits)
    probabilities = counts.probabilities()
    indexes = binary_codes.iteration_indexes(bits).ravel()
    flat = bits.ravel()
    for index in np.unique(indexes)[:20]:
        ones, total = flat[indexes == index].sum(), (indexes == index).sum()
        assert probabilities.ravel()[index] == pytest.approx((ones + 0.5) / (total + 1))
    direct = -sum(np.log2(probabilities.ravel()[k] if b else 1 - probabilities.ravel()[k])
                  for k, b in zip(indexes, flat, strict=True))
    assert binary_codes.estimated_bits(bits, probabilities) == pytest.approx(direct)


def test_zero_frequencies_stay_codable_at_the_extremes():
    frequencies = binary_codes.zero_frequencies(np.array([0.0, 1e-9, 0.5, 1.0]))
    assert frequencies.tolist() == [65535, 65535, 32768, 1]


def test_raw_packing_round_trips_and_refuses_a_wrong_length():
    bits = (np.random.default_rng(2).random((32, 3, 5)) < 0.5).astype(np.uint8)
    data = binary_codes.pack(bits)
    assert len(data) == 32 * 15 // 8
    assert np.array_equal(binary_codes.unpack(data, bits.shape), bits)
    with pytest.raises(ValueError, match="does not hold"):
        binary_codes.unpack(data[:-1], bits.shape)


@pytest.mark.parametrize("patch", [0, 32])
@pytest.mark.parametrize("size", [(16, 16), (37, 53), (64, 96)])
def test_tiling_round_trips_images_and_code_grids(patch, size):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    batch, tiling = recurrent_tiling.network_input(image, patch)
    assert batch.dtype == np.float32 and batch.min() >= -0.5 and batch.max() <= 0.5
    assert np.array_equal(recurrent_tiling.network_output_to_image(batch, tiling), image)
    codes = rng.choice([-1.0, 1.0], size=(batch.shape[0], batch.shape[1] // 16,
                                          batch.shape[2] // 16, 8)).astype(np.float32)
    grid = recurrent_tiling.codes_to_grid(codes, tiling)
    assert grid.shape == (8, *tiling.code_grid)
    assert np.array_equal(recurrent_tiling.grid_to_codes(grid, tiling), codes)


def test_patch_tiling_puts_each_patch_where_it_was_cut():
    image = np.zeros((64, 96, 3), dtype=np.uint8)
    image[32:, 64:] = 255  # bottom-right patch of a 2×3 grid
    batch, tiling = recurrent_tiling.network_input(image, 32)
    assert tiling.patches == (2, 3)
    assert batch[5].min() == 0.5 and batch[:5].max() == -0.5
