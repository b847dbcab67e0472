"""torch/mentzer2018-context (Mentzer et al. 2018): the volume and its masks, a context
model causal in depth, exact decoding from the bytes alone, rates over the channel
budgets, corrupt files, and the trainer (exact resume, refusals, export)."""

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
from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile, parse  # noqa: E402
from codecbench.codecs.learned.context import volume  # noqa: E402
from codecbench.codecs.learned.context.layers import reach  # noqa: E402
from codecbench.codecs.learned.context.torch.codecs import TorchConditionalCodec  # noqa: E402
from codecbench.codecs.learned.context.torch.network import ConditionalNetwork  # noqa: E402
from codecbench.codecs.learned.models import CONDITIONAL_MODELS  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from training_helpers import curves  # noqa: E402

ENTRY = CONDITIONAL_MODELS["mentzer2018-context"]
TINY = (8, 4)


def context_config(out, **changes) -> TrainingConfig:
    options = dict(data=SAMPLE_DIR, out=out, steps=4, batch_size=2, patch_size=64,
                   learning_rate=1e-3, channels=TINY, log_every=1, checkpoint_every=2,
                   lr_milestones=(), progress=False)
    options.update(changes)
    return TrainingConfig(**options)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A tiny model trained for a few steps on the sample photos (its exported file)."""
    out = tmp_path_factory.mktemp("context-tiny")
    return TorchConditionalCodec(ENTRY).train(context_config(out, steps=6)).weights


def tiny_codec(weights) -> TorchConditionalCodec:
    codec = TorchConditionalCodec(ENTRY)
    codec.weights_file = lambda quality=None: weights
    return codec


def test_levels_masks_and_centres():
    y = np.array([[0.0, 0.01, 0.5], [0.51, 0.99, 1.0]])
    levels = volume.levels(y, 4)
    np.testing.assert_array_equal(levels, [[0, 1, 2], [3, 4, 4]])
    mask = volume.mask_of(levels, 6)
    assert mask.shape == (6, 2, 3)
    np.testing.assert_array_equal(mask.sum(0), levels)  # ⌈K_q·y⌉ channels, the first ones
    assert not mask[4:].any()
    centres = np.array([-1.0, 0.0, 2.0], np.float32)
    np.testing.assert_array_equal(volume.nearest_centres(np.array([-3, -0.4, 0.9, 1.1, 5]),
                                                         centres), [0, 1, 1, 2, 2])
    # the torch mask is the same hard mask forward, with a gradient to y backward
    network = ConditionalNetwork(ENTRY, *TINY)
    y_torch = torch.tensor(y[None], dtype=torch.float32, requires_grad=True)
    torch_mask = network.mask(y_torch, 4)
    np.testing.assert_array_equal(torch_mask[0].detach().numpy(), mask[:4].astype(np.float32))
    torch_mask.sum().backward()
    assert y_torch.grad is not None and y_torch.grad.abs().sum() > 0


def test_context_model_is_causal_in_depth_and_exact_on_its_window():
    torch.manual_seed(0)
    network = ConditionalNetwork(ENTRY, 8, 12).eval()
    generator = torch.Generator().manual_seed(1)
    values = torch.randn(1, 12, 5, 7, generator=generator)
    mask = (torch.rand(1, 12, 5, 7, generator=generator) > 0.3).float()
    back, ahead = reach(network.plan.context)
    assert (back, ahead) == (ENTRY.context_layers + 1, 1)
    with torch.no_grad():
        full = network.context(values, mask)
        for depth in range(12):
            changed = values.clone()
            changed[:, depth:] = torch.randn(changed[:, depth:].shape, generator=generator)
            torch.testing.assert_close(network.context(changed, mask)[:, :, depth],
                                       full[:, :, depth])
            window, window_mask, index = volume.context_window(
                values[0].numpy(), mask[0].numpy(), depth, back, ahead)
            windowed = network.context(torch.from_numpy(window)[None],
                                       torch.from_numpy(window_mask)[None])
            torch.testing.assert_close(windowed[:, :, index], full[:, :, depth], rtol=1e-5,
                                       atol=1e-5)
        # slice d does depend on slice d − 1 (the context is used)
        changed = values.clone()
        changed[:, 4] += 1
        assert not torch.allclose(network.context(changed, mask)[:, :, 5], full[:, :, 5])


@pytest.mark.parametrize("size", [(33, 47), (75, 99)])
def test_round_trip_decodes_exactly_what_was_coded(tiny_weights, size):
    codec = tiny_codec(tiny_weights)
    image = photo(3, *size)
    data = codec.encode(image, 6)
    file = parse(bytes(data))
    loaded, _ = codec._model(6)
    grid = (1, -(-size[0] // 8), -(-size[1] // 8))
    assert [latent.shape for latent in file.latents] == [grid] * (1 + loaded.budget)
    # the encoder's levels and symbols, recomputed
    z, y = codec._analysis(loaded.network, np.pad(
        image, ((0, -size[0] % 8), (0, -size[1] % 8), (0, 0)), mode="edge")[None]
        .astype(np.float32) / 255)
    levels = volume.levels(y, loaded.budget)
    mask = volume.mask_of(levels, loaded.code_channels)
    decoded_levels, symbols = tiny_codec(tiny_weights).decode_volume(loaded, file)
    np.testing.assert_array_equal(decoded_levels, levels)
    np.testing.assert_array_equal(symbols[mask], volume.nearest_centres(z, loaded.centres)[mask])
    assert (symbols[~mask] == -1).all()
    decoded = tiny_codec(tiny_weights).decode(bytes(data))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    coded = sum(len(latent.string) for latent in file.latents) * 8
    assert abs(coded - data.estimated_bits) <= 0.05 * data.estimated_bits + 64 * len(file.latents)


def test_rate_grows_with_the_channel_budget(tiny_weights):
    codec = tiny_codec(tiny_weights)
    image = photo(1, 128, 160, 50, 50)
    sizes = [len(codec.encode(image, q)) for q in codec.all_qualities]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes


def test_corrupt_files_are_refused(tiny_weights):
    codec = tiny_codec(tiny_weights)
    image = photo(0, 40, 48)
    file = parse(bytes(codec.encode(image, 4)))
    other_size = LearnedFile(file.codec, file.weights_id, file.quality, file.height + 8,
                             file.width, file.latents)
    with pytest.raises(ContainerError, match="importance map"):
        codec.decode(other_size.to_bytes())
    other_count = LearnedFile(file.codec, file.weights_id, file.quality, file.height,
                              file.width, file.latents[:-1])
    with pytest.raises(ContainerError, match="latent count"):
        codec.decode(other_count.to_bytes())
    # a slice string where the levels leave no symbol (levels all 0: an empty map string)
    loaded, _ = codec._model(4)
    grid = file.latents[0].shape
    zeros = np.zeros(grid[1:], np.int64)
    empty_map = codec.coder.encode(zeros, np.full(zeros.shape, 3), loaded.importance_tables)
    latents = (Latent(grid, empty_map), *(Latent(grid, b"\x01") for _ in file.latents[1:]))
    forged = LearnedFile(file.codec, file.weights_id, file.quality, file.height, file.width,
                         latents)
    with pytest.raises(ContainerError, match="slice 1: 1 bytes for a slice without symbols"):
        codec.decode(forged.to_bytes())


def test_training_resumes_exactly_and_exports_a_codec(tmp_path):
    codec = TorchConditionalCodec(ENTRY)
    straight = codec.train(context_config(tmp_path / "a"))
    codec.train(context_config(tmp_path / "b", steps=2))
    resumed = codec.train(context_config(tmp_path / "b"))
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "importance.probabilities" in a and a["centres"].shape == (ENTRY.centres,)
    rows = curves(tmp_path / "b")
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    assert all(0 < float(row["mask_fraction"]) <= 1 for row in rows)
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["code_channels"] == TINY[1] and record["budgets"] == [1, 1, 2, 3, 3, 4]
    assert record["weights_id"]


def test_training_refuses_per_rate_point_options(tmp_path):
    codec = TorchConditionalCodec(ENTRY)
    with pytest.raises(TrainingError, match="--quality and --lambda do not apply"):
        codec.train(context_config(tmp_path / "a", quality=2))
    with pytest.raises(TrainingError, match="from scratch"):
        codec.train(context_config(tmp_path / "b", init_from=tmp_path))
    with pytest.raises(TrainingError, match="multiple of 8"):
        codec.train(context_config(tmp_path / "c", patch_size=60))


def test_a_weights_file_of_other_sizes_is_refused(tiny_weights, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(tiny_weights), framework="numpy") as handle:
        metadata = dict(handle.metadata())
        arrays = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    broken = tmp_path / tiny_weights.name
    save_file(arrays, str(broken), metadata={**metadata, "code_channels": "5"})
    with pytest.raises(ValueError, match="importance table of shape"):
        tiny_codec(broken).encode(photo(0, 16, 16), 1)
    del metadata["width"]
    save_file(arrays, str(broken), metadata=metadata)
    with pytest.raises(ValueError, match="no valid 'width' metadata"):
        tiny_codec(broken).encode(photo(0, 16, 16), 1)


SHIPPED = weights_locator.find_weights("torch", ENTRY.slug)


@pytest.mark.skipif(SHIPPED is None, reason="the codecbench-models weights are not installed")
def test_shipped_weights_rate_and_quality_grow_over_the_rate_points(monkeypatch):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    codec = TorchConditionalCodec(ENTRY)
    image = photo(4, 256, 256, 100, 100)
    sizes, errors = [], []
    for quality in (1, 3, 6):
        data = codec.encode(image, quality)
        sizes.append(len(data))
        errors.append(np.mean((codec.decode(bytes(data)).astype(float) - image) ** 2))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
    assert errors[0] > errors[-1], errors


def test_ms_ssim_training_records_its_metric(tmp_path):
    result = TorchConditionalCodec(ENTRY).train(
        context_config(tmp_path / "a", steps=1, patch_size=168, metric="ms-ssim"))
    record = json.loads((tmp_path / "a" / "training.json").read_text())
    assert record["metric"] == "ms-ssim" and result.weights.is_file()
    distortion = float(curves(tmp_path / "a")[0]["distortion"])
    assert 0 < distortion < 1  # 1 − MS-SSIM
