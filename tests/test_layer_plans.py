"""Layer plans: each network stated once, checked against its torch and TensorFlow readings."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from safetensors import safe_open  # noqa: E402

from codecbench.codecs.learned import weights_format, weights_locator  # noqa: E402
from codecbench.codecs.learned.hyperprior import layers as cnn_layers  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf import convert  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.network import (  # noqa: E402
    CNNModel,
    named_variables,
)
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io  # noqa: E402
from codecbench.codecs.learned.layer_plans import Conv, parameters  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS, RECURRENT_MODELS  # noqa: E402
from codecbench.codecs.learned.recurrent import layers as rnn_layers  # noqa: E402
from codecbench.codecs.learned.recurrent.tf.network import RecurrentNetwork  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.network import RecurrentCompressor  # noqa: E402
from codecbench.codecs.learned.recurrent.weights import CONTEXT_KEY  # noqa: E402
from codecbench.codecs.learned.tf.layout import convert_state  # noqa: E402

CNN_SLUGS = [slug for slug, entry in LEARNED_MODELS.items() if entry.prior in cnn_layers.PRIORS]
TINY_N, TINY_M = 8, 12


def _shapes(state) -> dict:
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def _shipped(slug: str, qualities=(None,)):
    """``(name → shape, metadata)`` of the first shipped weights file of ``slug``."""
    folder = weights_locator.shipped_weights_folder()
    paths = [folder / weights_locator.weights_filename("torch", slug, quality)
             for quality in qualities] if folder else []
    path = next((path for path in paths if path.is_file()), None)
    if path is None:
        pytest.skip(f"no shipped weights for {slug}")
    with safe_open(str(path), "np") as tensors:
        shapes = {name: tuple(tensors.get_slice(name).get_shape()) for name in tensors.keys()}
    return shapes, weights_format.read_metadata(path)


# --- recurrent ------------------------------------------------------------------------
@pytest.mark.parametrize("slug", RECURRENT_MODELS)
@pytest.mark.parametrize("channels", [None, (8, 16)])
def test_recurrent_torch_state_dict_is_the_plan_in_order(slug, channels):
    entry = RECURRENT_MODELS[slug]
    network = RecurrentCompressor(entry, rnn_layers.encoder_widths(entry, channels),
                                  rnn_layers.decoder_widths(entry, channels))
    plan = rnn_layers.recurrent_plan(entry, network.encoder_widths, network.decoder_widths)
    assert network.plan == plan
    assert list(_shapes(network.state_dict()).items()) == list(plan.parameters().items())


@pytest.mark.parametrize("slug", RECURRENT_MODELS)
def test_shipped_recurrent_weights_hold_exactly_the_plan(slug):
    entry = RECURRENT_MODELS[slug]
    shapes, metadata = _shipped(slug)
    shapes.pop(CONTEXT_KEY, None)
    widths = [tuple(int(w) for w in metadata[key].split(","))
              for key in ("encoder_widths", "decoder_widths")]
    assert shapes == rnn_layers.recurrent_plan(entry, *widths).parameters()


@pytest.mark.parametrize("slug", RECURRENT_MODELS)
def test_recurrent_tf_twin_reads_the_same_plan_off_converted_weights(slug):
    entry = RECURRENT_MODELS[slug]
    network = RecurrentCompressor(entry, (8, 16, 16, 16), (16, 16, 16, 8))
    state = convert_state({k: v.numpy() for k, v in network.state_dict().items()})
    twin = RecurrentNetwork(entry, state)
    assert twin.plan == network.plan
    del state["decoder_rnn.1.input_conv.bias"]
    state["binarizer.conv.weight"] = state["binarizer.conv.weight"][..., :8]
    with pytest.raises(ValueError) as error:
        RecurrentNetwork(entry, state)
    assert "lack decoder_rnn.1.input_conv.bias" in str(error.value)
    assert "binarizer.conv.weight of shape (1, 1, 16, 8), not (1, 1, 16, 32)" in str(error.value)
    del state["encoder_rnn.2.hidden_conv.weight"]
    with pytest.raises(ValueError, match="lack encoder_rnn.2.hidden_conv.weight"):
        RecurrentNetwork(entry, state)


def test_recurrent_plan_structure():
    entry = RECURRENT_MODELS["johnston2018-priming"]
    plan = rnn_layers.recurrent_plan(entry)
    encoder_cells = plan.state_sizes(plan.encoder, 64, 32)
    assert [(c.name, c.stride, c.gates, h, w) for c, h, w in encoder_cells] == [
        ("encoder_rnn.0", 2, 3, 16, 8), ("encoder_rnn.1", 2, 3, 8, 4),
        ("encoder_rnn.2", 2, 3, 4, 2)]
    decoder_cells = plan.state_sizes(plan.decoder, 4, 2)
    assert [(c.hidden_kernel, h, w) for c, h, w in decoder_cells] == [
        (3, 4, 2), (3, 8, 4), (3, 16, 8), (3, 32, 16)]
    assert plan.priming == 2 and plan.additive
    assert plan.decoder[-1] == rnn_layers.Tanh(1.0)
    one_shot = rnn_layers.recurrent_plan(RECURRENT_MODELS["toderici2016-lstm"])
    assert one_shot.decoder[-1] == rnn_layers.Tanh(0.5) and not one_shot.additive
    with pytest.raises(ValueError, match="multiples of 4"):
        rnn_layers.recurrent_plan(entry, decoder=(16, 16, 16, 6))


# --- hyperprior -------------------------------------------------------------------------
def _compressai_parameters(model) -> dict:
    parameters = dict(model.named_parameters())
    return {name: shape for name, shape in _shapes(model.state_dict()).items()
            if name in parameters}


@pytest.mark.parametrize("slug", CNN_SLUGS)
@pytest.mark.parametrize("size", ["tiny", "table"])
def test_compressai_parameters_are_exactly_the_plan(slug, size):
    entry = LEARNED_MODELS[slug]
    N, M, decoder_N = (TINY_N, TINY_M, 4) if size == "tiny" else (entry.N, entry.M,
                                                                   entry.decoder_N)
    if entry.architecture != "gdn":
        decoder_N = 0  # only the Ballé synthesis has a distilled variant
    plan = cnn_layers.prior_plan(entry.prior, N, M, decoder_N, entry.architecture)
    model = weights_io.build_model(entry.compressai_class, N, M, decoder_N)
    assert _compressai_parameters(model) == plan.parameters()
    model.update(force=True)
    state = _shapes(model.state_dict())
    assert {name: state[name] for name in plan.buffers()} == plan.buffers()


@pytest.mark.parametrize("slug", CNN_SLUGS)
def test_shipped_cnn_weights_hold_the_plan(slug):
    entry = LEARNED_MODELS[slug]
    shapes, metadata = _shipped(slug, entry.qualities)
    plan = cnn_layers.prior_plan(entry.prior, int(metadata["N"]), int(metadata["M"]),
                                 int(metadata.get("decoder_N", 0)), entry.architecture)
    assert {name: shapes.get(name) for name in plan.parameters()} == plan.parameters()
    assert {name: shapes.get(name) for name in plan.buffers()} == plan.buffers()


def test_distilled_synthesis_transform_is_the_plan():
    g_s = weights_io.synthesis_transform(TINY_M, 4)
    expected = cnn_layers.prior_plan("hyperprior", TINY_N, TINY_M, 4).transforms["g_s"]
    assert {f"g_s.{name}": shape for name, shape in _compressai_parameters(g_s).items()} == (
        parameters(expected))


@pytest.mark.parametrize(("prior", "architecture"), [
    *((prior, "gdn") for prior in cnn_layers.PRIORS), ("mean-scale", "attention")])
def test_tf_variables_correspond_one_to_one_with_the_plan(prior, architecture):
    model = CNNModel(prior, TINY_N, TINY_M, architecture=architecture)
    plan = cnn_layers.prior_plan(prior, TINY_N, TINY_M, architecture=architecture)
    variables = named_variables(model)
    torch_names = {convert._torch_key(key): key for key in variables}
    assert len(torch_names) == len(variables)
    assert set(torch_names) == set(plan.parameters()) | set(plan.buffers())
    upsampling = {step.name for steps in plan.transforms.values() for step in steps
                  if isinstance(step, Conv) and step.transposed}
    assert convert._upsampling_layers(model) == upsampling
    for torch_name, shape in {**plan.parameters(), **plan.buffers()}.items():
        key = torch_names[torch_name]
        expected = convert._to_tf_layout(key, np.zeros(shape, np.float32),
                                         key.rsplit(".", 1)[0] in upsampling).shape
        assert tuple(variables[key].shape) == expected, key
    assert [layer.name for layer in model.g_s.layers] == [
        step.name for step in plan.transforms["g_s"]]
