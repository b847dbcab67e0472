"""torch/minnen2017-tiled: tiles and contexts, files decoded from bytes alone, the
target-quality allocation (flat tiles take fewer iterations than detailed ones, higher
targets more bits), refused corrupt fields, and the trainer (exact resume, refusals)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.container import (  # noqa: E402
    ContainerError,
    Latent,
    LearnedFile,
    parse,
)
from codecbench.codecs.learned.image_batches import to_image  # noqa: E402
from codecbench.codecs.learned.tiled import tiles  # noqa: E402
from codecbench.codecs.learned.tiled.torch.codecs import TorchTiledCodec  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from tiled_fixtures import ENTRY, write_tiny_weights  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A torch codec on tiny random weights (real tables)."""
    folder = tmp_path_factory.mktemp("tiled-weights")
    path = write_tiny_weights(folder)
    codec = TorchTiledCodec(ENTRY)
    codec.weights_file = lambda quality=None: path
    return codec


def _shipped() -> TorchTiledCodec:
    codec = TorchTiledCodec(ENTRY)
    if codec.weights_file() is None:
        pytest.skip("no minnen2017-tiled weights here")
    return codec


# -- tiles, no network ------------------------------------------------------------------

def test_each_wavefront_needs_only_tiles_of_earlier_wavefronts():
    fronts = tiles.wavefronts(4, 6)
    assert sorted(t for front in fronts for t in front) == [(i, j) for i in range(4)
                                                            for j in range(6)]
    done: set[tuple[int, int]] = set()
    for front in fronts:
        for i, j in front:
            for di, dj, _, _ in tiles.NEIGHBOURS:
                a, b = i + di, j + dj
                if 0 <= a < 4 and 0 <= b < 6:
                    assert (a, b) in done, ((i, j), (a, b))
        done.update(front)
    assert len(fronts) == 2 * 3 + 5 + 1  # 2·(rows − 1) + columns


def test_contexts_hold_the_decoded_neighbours_and_mark_missing_ones():
    grid = tiles.Grid(64, 96, 32)
    canvas = np.random.default_rng(0).random((64, 96, 3)).astype(np.float32)
    first, inner, last = tiles.contexts(canvas, grid, [(0, 0), (1, 1), (1, 2)])
    assert not first.any()  # the first tile has no neighbour
    for di, dj, row, column in tiles.NEIGHBOURS:
        place = np.s_[row * 32:(row + 1) * 32, column * 32:(column + 1) * 32]
        np.testing.assert_array_equal(inner[place][..., :3],
                                      canvas[(1 + di) * 32:(2 + di) * 32,
                                             (1 + dj) * 32:(2 + dj) * 32] - 0.5)
        assert (inner[place][..., 3] == 1).all()
    assert not inner[32:, 32:].any()  # the current and the right tile
    assert not last[:32, 64:].any()  # tile (1, 2) has no above-right neighbour
    assert (last[:32, 32:64, 3] == 1).all()


# -- files on tiny weights ----------------------------------------------------------------

@pytest.mark.parametrize("size", [(1, 1), (33, 47), (75, 99)])
def test_files_decode_from_bytes_alone_to_the_encoders_own_decode(tiny, size):
    image = photo(3, *size)
    for quality in (1, 5):
        data = bytes(tiny.encode(image, quality))
        file = parse(data)
        grid = tiles.Grid(*size, ENTRY.tile)
        assert [latent.shape for latent in file.latents] == [
            (1, grid.rows, grid.columns),
            *[(8, grid.rows * 4, grid.columns * 4)] * ENTRY.caps[quality - 1]]
        decoded = tiny.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        loaded, _ = tiny._model(quality)
        coded = tiny.allocate(loaded, image)
        np.testing.assert_array_equal(decoded, to_image(coded.decoded[None], *size))
        counts, bits = tiny.decode_codes(loaded, file)
        np.testing.assert_array_equal(counts, coded.counts)
        np.testing.assert_array_equal(bits, coded.bits)


def test_tiles_below_the_cap_reach_the_target_and_the_estimate_is_the_coded_size(tiny):
    image = photo(0, 96, 128, 100, 100)
    for quality in (2, 4):
        data = tiny.encode(image, quality)
        loaded, _ = tiny._model(quality)
        counts, _ = tiny.decode_codes(loaded, parse(bytes(data)))
        decoded = tiny.decode(bytes(data)).astype(float)
        target, cap = ENTRY.targets_db[quality - 1], ENTRY.caps[quality - 1]
        for i, j in zip(*np.nonzero(counts < cap), strict=True):
            rows, columns = tiles.Grid(96, 128, 32).pixels(i, j)
            mse = np.mean((decoded[rows, columns] - image[rows, columns]) ** 2)
            assert mse == 0 or 10 * np.log10(255**2 / mse) >= target
        coded = sum(len(latent.string) for latent in parse(bytes(data)).latents) * 8
        assert abs(coded - data.estimated_bits) <= 0.03 * data.estimated_bits + 64 * 8


def _with_latents(data: bytes, latents) -> bytes:
    file = parse(data)
    return LearnedFile(file.codec, file.weights_id, file.quality, file.height, file.width,
                       tuple(latents)).to_bytes()


def test_counts_above_the_cap_and_strings_of_unused_iterations_are_refused(tiny):
    image = photo(2, 64, 64)
    data = bytes(tiny.encode(image, 1))
    loaded, _ = tiny._model(1)
    file = parse(data)
    too_many = np.full((1, 2, 2), ENTRY.caps[0] + 1)
    string = tiny.coder.encode(too_many, np.zeros_like(too_many), loaded.count_tables)
    with pytest.raises(ContainerError, match="a tile takes 5 iterations, quality 1 allows "
                                             "at most 4"):
        tiny.decode(_with_latents(data, (Latent(file.latents[0].shape, string),
                                          *file.latents[1:])))
    none = np.zeros((1, 2, 2), dtype=np.int64)
    string = tiny.coder.encode(none, none, loaded.count_tables)
    unused = [Latent(latent.shape, b"\x01") for latent in file.latents[1:]]
    with pytest.raises(ContainerError, match="iteration 1: no tile takes it"):
        tiny.decode(_with_latents(data, (Latent(file.latents[0].shape, string), *unused)))
    with pytest.raises(ContainerError, match="latent count 5: expected 7"):
        tiny.decode(data[:6 + data[5] + 8] + bytes([3]) + data[6 + data[5] + 9:])


# -- the allocation on trained weights ----------------------------------------------------

def test_flat_tiles_take_fewer_iterations_than_detailed_ones():
    codec = _shipped()
    detailed = photo(0, 128, 128, 120, 180)
    image = detailed.copy()
    image[:, :64] = np.round(detailed.reshape(-1, 3).mean(0)).astype(np.uint8)
    loaded, _ = codec._model(3)
    counts = codec.allocate(loaded, image).counts
    assert counts[:, :2].mean() < counts[:, 2:].mean(), counts


def test_higher_targets_spend_more_bits_for_higher_quality_on_real_photos():
    codec = _shipped()
    for index in (1, 4):
        image = photo(index, 160, 192, 80, 80)
        sizes, psnrs = [], []
        for quality in codec.qualities:
            data = bytes(codec.encode(image, quality))
            mse = np.mean((codec.decode(data).astype(float) - image) ** 2)
            sizes.append(len(data))
            psnrs.append(10 * np.log10(255**2 / mse))
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
        assert psnrs == sorted(psnrs) and psnrs[0] < psnrs[-1], psnrs


# -- training -----------------------------------------------------------------------------

def tiled_config(out, **changes) -> TrainingConfig:
    options = dict(data=SAMPLE_DIR, out=out, steps=4, batch_size=2, patch_size=96,
                   learning_rate=1e-3, channels=(8, 8), log_every=1, checkpoint_every=2,
                   lr_milestones=(), progress=False)
    options.update(changes)
    return TrainingConfig(**options)


def test_training_resumes_exactly_and_exports_a_codec(tmp_path, monkeypatch):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    codec = TorchTiledCodec(ENTRY)
    straight = codec.train(tiled_config(tmp_path / "a"))
    codec.train(tiled_config(tmp_path / "b", steps=2))
    resumed = codec.train(tiled_config(tmp_path / "b"))
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["coder_width"] == 8 and record["caps"] == list(ENTRY.caps)
    codec.weights_file = lambda quality=None: resumed.weights
    image = photo(2, 40, 56)
    assert codec.decode(bytes(codec.encode(image, 3))).shape == image.shape


def test_training_refuses_per_rate_point_options_and_other_patches(tmp_path):
    codec = TorchTiledCodec(ENTRY)
    with pytest.raises(TrainingError, match="--quality, --lambda and --metric do not apply"):
        codec.train(tiled_config(tmp_path / "a", quality=2))
    with pytest.raises(TrainingError, match="--patch-size must be 96"):
        codec.train(tiled_config(tmp_path / "b", patch_size=128))
