"""torch/klopp2018-codespace: the coding order and residual tables, exact decoding of the
predicted residuals from the bytes alone, one network for every rate point, the
predictor's gain on real photos, and the trainer (exact resume, refusals)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned import weights_format, weights_locator  # noqa: E402
from codecbench.codecs.learned.codespace import layers, residuals  # noqa: E402
from codecbench.codecs.learned.codespace.torch.codecs import TorchCodeSpaceCodec  # noqa: E402
from codecbench.codecs.learned.codespace.torch.network import laplace_bits  # noqa: E402
from codecbench.codecs.learned.container import ContainerError, LearnedFile, parse  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.codecs.learned.weights_format import rate_point_id  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from codespace_fixtures import ENTRY, trained_weights, write_tiny_weights  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from training_helpers import curves  # noqa: E402

TABLES = residuals.ResidualTables(ENTRY)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A codec on tiny random weights (the only weights it finds)."""
    write_tiny_weights(tmp_path / "weights")
    monkeypatch.setenv(weights_locator.weights_env("torch"), str(tmp_path / "weights"))
    return TorchCodeSpaceCodec(ENTRY)


@pytest.fixture
def trained():
    if trained_weights() is None:
        pytest.skip("no trained klopp2018-codespace weights here")
    return TorchCodeSpaceCodec(ENTRY)


def test_levels_nest_and_every_position_is_coded_once():
    shapes = residuals.grid_shapes(13, 6, 3)
    assert shapes == [(13, 6), (7, 3), (4, 2), (2, 1)]
    coded = sum(int(residuals.new_positions(shape, level == 3).sum())
                for level, shape in enumerate(shapes))
    assert coded == 13 * 6
    mask = residuals.new_positions((3, 3), coarsest=False)
    assert not mask[::2, ::2].any() and mask.sum() == 9 - 4


def test_tables_are_16_bit_laplace_rows_and_predictions_pick_the_nearest():
    cumulative = TABLES.cumulative()
    assert cumulative.shape == (ENTRY.scale_count * ENTRY.offset_count, TABLES.alphabet + 1)
    assert (cumulative[:, -1] == 1 << 16).all() and (np.diff(cumulative, axis=1) >= 1).all()
    np.testing.assert_allclose(TABLES.rows().sum(axis=1), 1.0, atol=1e-12)
    # the row of (μ = 3.3, σ = 2) is the scale nearest 2 and the offset bin of 0.3
    index = int(TABLES.indexes(np.array([3.3]), np.array([2.0]))[0])
    k, j = divmod(index, ENTRY.offset_count)
    assert np.argmin(np.abs(np.log(TABLES.scales / 2.0))) == k
    assert j == int((0.3 + 0.5) * ENTRY.offset_count)
    assert TABLES.rounded_means(np.array([3.3, np.nan, 1e30]))[0] == 3
    np.testing.assert_array_equal(
        TABLES.symbols(np.array([0, 500, -500]), np.array([0, 0, 0])),
        [ENTRY.residual_range, 2 * ENTRY.residual_range, 0])


def test_torch_rate_term_is_the_codecs_estimate():
    generator = np.random.default_rng(0)
    q = generator.integers(-20, 20, 200).astype(np.float64)
    mean, scale = generator.normal(0, 5, 200), generator.uniform(0.11, 30, 200)
    torch_bits = laplace_bits(torch.from_numpy(q), torch.from_numpy(mean),
                              torch.from_numpy(scale)).sum().item()
    assert torch_bits == pytest.approx(residuals.estimated_bits(q, mean, scale), rel=1e-9)


@pytest.mark.parametrize("size", [(33, 47), (75, 99), (5, 3)])
def test_round_trip_decodes_the_encoders_code_exactly(tiny, size):
    image = photo(3, *size)
    for quality in (1, 5):
        data = bytes(tiny.encode(image, quality))
        file = parse(data)
        model = tiny._model(quality)[0]
        expected = tiny.code_levels(model, tiny.integer_code(model, image))[-1].grid
        np.testing.assert_array_equal(tiny.decode_code(model, file), expected)
        decoded = TorchCodeSpaceCodec(ENTRY).decode(data)  # a fresh codec: the bytes alone
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        assert [latent.shape for latent in file.latents] == [
            (4, *shape) for shape in tiny.level_shapes(*size)[::-1]]


def test_one_weights_file_serves_every_rate_point_and_binds_it(tiny):
    assert tiny.qualities == ENTRY.qualities and tiny.weights_file(1) == tiny.weights_file(5)
    image = photo(1, 40, 56)
    files = {q: bytes(tiny.encode(image, q)) for q in ENTRY.qualities}
    file_id = weights_format.weights_id(tiny.weights_file())
    assert {parse(data).weights_id for data in files.values()} == {
        rate_point_id(file_id, q) for q in ENTRY.qualities}
    assert tiny.version.endswith(f"weights {file_id.hex()}")
    at = 6 + files[3][5] + 8  # the quality byte
    other = files[3][:at] + bytes([2]) + files[3][at + 1:]
    with pytest.raises(ContainerError, match="encoded with weights"):
        tiny.decode(other)


def test_header_and_string_faults_are_refused(tiny):
    image = photo(2, 40, 56)
    file = parse(bytes(tiny.encode(image, 3)))
    taller = LearnedFile(file.codec, file.weights_id, file.quality, file.height + 16,
                         file.width, file.latents)
    with pytest.raises(ContainerError, match="\\(level \\d\\) has shape .* for a 56×56 image"):
        tiny.decode(taller.to_bytes())
    # a 1×1 code codes no symbol at the finer levels: a string there is refused
    small = parse(bytes(tiny.encode(photo(2, 5, 5), 3)))
    assert small.latents[-1].string == b""
    latents = (*small.latents[:-1], type(small.latents[-1])(small.latents[-1].shape, b"\x01"))
    forged = LearnedFile(small.codec, small.weights_id, small.quality, 5, 5, latents)
    with pytest.raises(ContainerError, match="no symbol is coded"):
        tiny.decode(forged.to_bytes())


def test_weights_without_their_widths_or_vectors_are_refused(tmp_path, monkeypatch):
    from safetensors import safe_open
    from safetensors.numpy import load_file as load_numpy
    from safetensors.numpy import save_file

    source = write_tiny_weights(tmp_path / "good")
    with safe_open(str(source), framework="numpy") as handle:
        metadata = dict(handle.metadata())
    arrays = load_numpy(str(source))
    monkeypatch.setenv(weights_locator.weights_env("torch"), str(tmp_path / "bad"))
    (tmp_path / "bad").mkdir()
    broken = tmp_path / "bad" / source.name
    save_file(arrays, str(broken), metadata={k: v for k, v in metadata.items()
                                             if k != "predictor_width"})
    with pytest.raises(ValueError, match="no valid 'predictor_width' metadata"):
        TorchCodeSpaceCodec(ENTRY).encode(photo(0, 16, 16), 1)
    arrays[layers.ENCODE_GAIN] = arrays[layers.ENCODE_GAIN][:2]
    save_file(arrays, str(broken), metadata=metadata)
    with pytest.raises(ValueError, match="encode_gain of shape \\(2, 4\\)"):
        TorchCodeSpaceCodec(ENTRY).encode(photo(0, 16, 16), 1)


def test_rate_grows_and_distortion_falls_over_rate_points(trained):
    for index in (0, 4):
        image = photo(index, 256, 256, 100, 100)
        sizes, errors = [], []
        for quality in ENTRY.qualities:
            data = trained.encode(image, quality)
            sizes.append(len(data))
            errors.append(np.mean((trained.decode(bytes(data)).astype(float) - image) ** 2))
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
        assert errors == sorted(errors, reverse=True), errors


def test_real_rate_is_close_to_the_estimate(trained):
    image = photo(1, 320, 480, 0, 0)
    for quality in (1, 5):
        data = trained.encode(image, quality)
        coded = sum(len(latent.string) for latent in parse(bytes(data)).latents) * 8
        assert abs(coded - data.estimated_bits) <= 0.05 * data.estimated_bits + 64


def test_the_predictor_lowers_the_bits_of_the_finer_levels(trained):
    """On real photo crops, the predicted residuals of the finer levels cost fewer bits
    than the same code under the coarsest grid's per-channel model (no prediction), and
    fewer than the crop's own per-channel zeroth-order entropy of those values (the best
    any static per-channel model could do on it)."""
    for index in (0, 3):
        image = photo(index, 256, 256, 80, 80)
        for quality in (2, 4):
            model = trained._model(quality)[0]
            levels = trained.code_levels(model, trained.integer_code(model, image))[1:]
            predicted = sum(level.bits for level in levels)
            gain = model.encode_gain[:, None]
            vectors = model.loaded.vectors
            unpredicted = empirical = 0.0
            for coded in levels:
                mask = residuals.new_positions(coded.grid.shape[1:], False)
                values = coded.grid[:, mask]
                mean = vectors[layers.PRIOR_MEAN][:, None] * gain
                scale = np.maximum(np.exp(vectors[layers.PRIOR_LOG_SCALE])[:, None] * gain,
                                   ENTRY.scale_bounds[0])
                unpredicted += residuals.estimated_bits(values, mean, scale)
                for channel in values:
                    _, counts = np.unique(channel, return_counts=True)
                    p = counts / counts.sum()
                    empirical += float(-(counts * np.log2(p)).sum())
            assert predicted < unpredicted, (index, quality, predicted, unpredicted)
            assert predicted < empirical, (index, quality, predicted, empirical)


def codespace_config(out, **changes) -> TrainingConfig:
    options = dict(data=SAMPLE_DIR, out=out, steps=4, batch_size=2, patch_size=64,
                   learning_rate=1e-3, channels=(8, 4), log_every=1, checkpoint_every=2,
                   lr_milestones=(), progress=False)
    options.update(changes)
    return TrainingConfig(**options)


def test_training_resumes_exactly_and_exports_a_codec(tmp_path):
    codec = TorchCodeSpaceCodec(ENTRY)
    straight = codec.train(codespace_config(tmp_path / "a"))
    codec.train(codespace_config(tmp_path / "b", steps=2))
    resumed = codec.train(codespace_config(tmp_path / "b"))
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = curves(tmp_path / "b")
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    assert all(float(row["bpp"]) > 0 for row in rows)
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["code_channels"] == 4 and record["lambdas"] == list(ENTRY.lambdas)
    codec.weights_file = lambda quality=None: resumed.weights
    image = photo(2, 40, 56)
    assert codec.decode(bytes(codec.encode(image, 3))).shape == image.shape


def test_training_refuses_per_rate_point_options(tmp_path):
    codec = TorchCodeSpaceCodec(ENTRY)
    with pytest.raises(TrainingError, match="--quality, --lambda and --metric do not apply"):
        codec.train(codespace_config(tmp_path / "a", quality=2))
    with pytest.raises(TrainingError, match="from scratch"):
        codec.train(codespace_config(tmp_path / "b", init_from=tmp_path))
    with pytest.raises(TrainingError, match="multiple of 8"):
        codec.train(codespace_config(tmp_path / "c", patch_size=60))


def test_check_codec_passes_on_tiny_weights(tiny):
    from codecbench.testing import check_codec

    check_codec(tiny, qualities=(1, 5))
