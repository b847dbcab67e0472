"""torch/rippel2017-waveone: bitplanes, progressive files, real rates on real photos,
and its trainer (adaptive codelength weight, resume, refusals)."""

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
from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import WAVEONE_MODELS  # noqa: E402
from codecbench.codecs.learned.progressive import truncate  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.codecs.learned.waveone import bitplanes  # noqa: E402
from codecbench.codecs.learned.waveone.torch.codecs import TorchWaveOneCodec  # noqa: E402
from codecbench.codecs.learned.waveone.torch.network import WaveOne  # noqa: E402
from codecbench.codecs.learned.waveone.torch.training import codelength_regulariser  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from codecbench.metrics import perceptual_weights as pw  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from training_helpers import curves  # noqa: E402

ENTRY = WAVEONE_MODELS["rippel2017-waveone"]


@pytest.fixture(autouse=True)
def _shipped_weights_only(monkeypatch, tmp_path):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path / "no-weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def test_bitplanes_split_and_decode_to_the_middle_of_the_kept_interval():
    y = np.array([0.0, 0.3, 0.51, 0.999999])
    q = bitplanes.quantise(y, 6)
    np.testing.assert_array_equal(q, [0, 19, 32, 63])
    planes = bitplanes.to_planes(q, 6)
    np.testing.assert_array_equal(planes[:, 1], [0, 1, 0, 0, 1, 1])  # 19 = 0b010011
    np.testing.assert_allclose(bitplanes.from_planes(planes, 6), (q + 0.5) / 64)
    np.testing.assert_allclose(bitplanes.from_planes(planes[:1], 6), [0.25, 0.25, 0.75, 0.75])
    # the torch quantiser decodes the same values (straight-through in the backward pass)
    network = WaveOne(ENTRY, 8, 4)
    for k in (1, 3, 6):
        y_hat, q_torch = network.quantise(torch.tensor(y, dtype=torch.float32), k)
        np.testing.assert_allclose(y_hat.numpy(), bitplanes.from_planes(planes[:k], 6),
                                   rtol=1e-6)
        np.testing.assert_array_equal(q_torch.numpy(), q)


@pytest.mark.parametrize("size", [(33, 47), (75, 99)])
def test_round_trip_from_bytes_alone_and_progressive_files(size):
    image = photo(3, *size)
    full = bytes(TorchWaveOneCodec(ENTRY).encode(image, 6))
    for k in (1, 4):
        data = bytes(TorchWaveOneCodec(ENTRY).encode(image, k))
        assert truncate(full, k) == data  # the first k planes of the 6-plane file
        decoded = TorchWaveOneCodec(ENTRY).decode(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert parse(full).latents[0].shape == (ENTRY.code_channels, -(-size[0] // 8),
                                            -(-size[1] // 8))


def test_rate_grows_and_distortion_falls_with_bitplanes_on_real_photos():
    codec = TorchWaveOneCodec(ENTRY)
    for index in (0, 4):
        image = photo(index, 256, 256, 100, 100)
        sizes, errors = [], []
        for k in (1, 2, 4, 6):
            data = codec.encode(image, k)
            sizes.append(len(data))
            errors.append(np.mean((codec.decode(bytes(data)).astype(float) - image) ** 2))
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
        assert errors[0] > errors[1] > errors[-1], errors


def test_planes_are_coded_close_to_the_context_models_estimate():
    codec = TorchWaveOneCodec(ENTRY)
    image = photo(1, 256, 320, 60, 60)
    data = codec.encode(image, 6)
    loaded, _ = codec._model(6)
    planes = np.stack(codec.decode_grids(loaded, parse(bytes(data))))
    assert binary_codes.estimated_bits(planes, loaded.probabilities) == pytest.approx(
        data.estimated_bits)
    coded = sum(len(latent.string) for latent in parse(bytes(data)).latents) * 8
    assert abs(coded - data.estimated_bits) <= 0.02 * data.estimated_bits + 6 * 32
    with pytest.raises(ContainerError, match="bitplane 1 has shape"):
        codec.decode(_with_other_size(bytes(data)))


def _with_other_size(data: bytes) -> bytes:
    """The same planes claimed for an image of another size."""
    from codecbench.codecs.learned.container import LearnedFile

    file = parse(data)
    return LearnedFile(file.codec, file.weights_id, file.quality, file.height + 16,
                       file.width, file.latents).to_bytes()


def test_codelength_regulariser_rewards_sparse_smooth_codes():
    dense = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    sparse = dense * (dense > 0.9)
    flat = torch.full_like(dense, 0.5)
    values = [float(codelength_regulariser(t, 6)) for t in (dense, sparse, flat)]
    assert values[1] < values[0] and values[2] < values[0]


def waveone_config(out, **changes) -> TrainingConfig:
    options = dict(data=SAMPLE_DIR, out=out, steps=4, batch_size=2, patch_size=192,
                   learning_rate=1e-3, channels=(8, 4), log_every=1, checkpoint_every=2,
                   lr_milestones=(), progress=False, warmup=0.0)
    options.update(changes)
    return TrainingConfig(**options)


def test_training_adapts_alpha_resumes_exactly_and_exports_a_codec(tmp_path):
    codec = TorchWaveOneCodec(ENTRY)
    straight = codec.train(waveone_config(tmp_path / "a"))
    codec.train(waveone_config(tmp_path / "b", steps=2))
    resumed = codec.train(waveone_config(tmp_path / "b"))
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    alphas = [float(row["aux_loss"]) for row in curves(tmp_path / "b")]
    assert len(set(alphas)) == 4  # α_t moves every step
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["code_channels"] == 4 and record["perceptual"] == "1-ms-ssim"
    codec.weights_file = lambda quality=None: resumed.weights
    image = photo(2, 40, 56)
    assert codec.decode(bytes(codec.encode(image, 3))).shape == image.shape


def test_training_refuses_per_rate_point_options(tmp_path):
    codec = TorchWaveOneCodec(ENTRY)
    with pytest.raises(TrainingError, match="--quality, --lambda and --metric do not apply"):
        codec.train(waveone_config(tmp_path / "a", quality=2))
    with pytest.raises(TrainingError, match="from scratch"):
        codec.train(waveone_config(tmp_path / "b", init_from=tmp_path))
