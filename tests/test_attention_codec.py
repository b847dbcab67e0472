"""Bao et al. 2022 (``*/bao2022-attention``): the Gaussian-scale mixture, mixed
quantisation, tables after loading, and the TF twin's training refusal."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
scipy_stats = pytest.importorskip("scipy.stats")

from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.hyperprior import layers  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.attention import (  # noqa: E402
    AttentionHyperprior,
    GaussianScaleMixtureConditional,
)
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402

SLUG = "bao2022-attention"
ENTRY = LEARNED_MODELS[SLUG]


def _mixture(logits, log_ratios) -> GaussianScaleMixtureConditional:
    conditional = GaussianScaleMixtureConditional()
    with torch.no_grad():
        conditional.mixture_logits.copy_(torch.tensor(logits))
        conditional.log_ratios.copy_(torch.tensor(log_ratios))
    return conditional


def test_mixture_likelihood_is_the_gsm_formula_by_scipy():
    """``P(ŷ) = Σ_k w_k (Φ((ŷ−μ+½)/(c_kσ)) − Φ((ŷ−μ−½)/(c_kσ)))`` against scipy."""
    logits, log_ratios = [0.3, -0.2, 0.9], [math.log(0.4), 0.1, math.log(3.0)]
    conditional = _mixture(logits, log_ratios).eval()
    values = torch.tensor([-7.0, -1.0, 0.0, 2.0, 5.0, 40.0]).view(1, 1, 2, 3)
    scales = torch.tensor([0.5, 1.0, 2.0, 3.5, 0.2, 9.0]).view(1, 1, 2, 3)
    means = torch.tensor([0.1, -0.3, 0.0, 1.7, 4.4, 0.0]).view(1, 1, 2, 3)
    _, likelihood = conditional(values, scales, means=means)
    weights = np.exp(logits) / np.exp(logits).sum()
    ratios = np.exp(log_ratios)
    v, s, m = (t.flatten().numpy().astype(np.float64) for t in (values, scales, means))
    s = np.maximum(s, layers.SCALE_MIN)
    expected = sum(w * (scipy_stats.norm.cdf((np.round(v - m) + 0.5) / (c * s))
                        - scipy_stats.norm.cdf((np.round(v - m) - 0.5) / (c * s)))
                   for w, c in zip(weights, ratios, strict=True))
    expected = np.maximum(expected, 1e-9)  # CompressAI's likelihood bound
    np.testing.assert_allclose(likelihood.detach().flatten().numpy(), expected, rtol=2e-4, atol=1e-9)


def test_ratios_are_bounded_so_tables_stay_finite():
    conditional = _mixture([0.0, 0.0, 0.0], [-9.0, 0.0, 9.0])
    conditional.update_scale_table(torch.tensor([0.11, 1.0, 256.0]), force=True)
    widest = math.ceil(256.0 * layers.GSM_RATIO_BOUND * -scipy_stats.norm.ppf(1e-9 / 2))
    assert int(conditional._cdf_length.max()) <= 2 * widest + 3  # + the overflow symbol


def test_tables_reach_the_mixture_tail_mass():
    """Every table's probability outside its range is at most the tail mass (10⁻⁹)."""
    conditional = _mixture([2.0, 0.0, -1.0], [math.log(0.3), 0.0, math.log(3.5)])
    conditional.update_scale_table(torch.exp(torch.linspace(math.log(0.11), math.log(256), 8)),
                                   force=True)
    weights = torch.softmax(conditional.mixture_logits.detach(), 0).numpy()
    ratios = np.exp(conditional.log_ratios.detach().numpy())
    for scale, length in zip(conditional.scale_table.numpy(), conditional._cdf_length.numpy(),
                             strict=True):
        half_width = (int(length) - 2) // 2  # symbols −c … c, then the overflow symbol
        outside = 2 * sum(w * scipy_stats.norm.cdf(-(half_width + 0.5) / (c * scale))
                          for w, c in zip(weights, ratios, strict=True))
        assert outside <= 1e-9


def test_training_decoder_sees_the_rounded_latent_and_rate_the_noisy_one():
    """Mixed quantisation: ``g_s`` gets ``round(y − μ) + μ`` in training too (the gradient
    passes straight through), while the likelihood is of ``y + u``."""
    torch.manual_seed(0)
    model = AttentionHyperprior(8, 12).train()
    seen = {}
    model.g_s.register_forward_pre_hook(lambda module, inputs: seen.setdefault("y_hat", inputs[0]))
    model.g_a.register_forward_hook(lambda module, inputs, output: seen.setdefault("y", output))
    model.h_s.register_forward_hook(lambda module, inputs, output: seen.setdefault("h_s", output))
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = model(x)
    y, (scales, means) = seen["y"], seen["h_s"].chunk(2, 1)
    residual = (seen["y_hat"] - means).detach()
    assert torch.allclose(residual, residual.round(), atol=1e-4)
    out["x_hat"].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0  # straight through
    model.gaussian_conditional.eval()  # the likelihood of the rounded latent differs
    _, of_rounded = model.gaussian_conditional(y, scales, means=means)
    assert not torch.allclose(of_rounded, out["likelihoods"]["y"])


def test_loaded_weights_code_with_tables_of_their_learned_mixture(tmp_path):
    """Tables are rebuilt from the loaded mixture, not from its initial shape: a file
    encoded by the trained model decodes with the loaded one, and the tables agree."""
    torch.manual_seed(1)
    model = weights_io.build_model(ENTRY.compressai_class, 8, 12)
    with torch.no_grad():
        model.gaussian_conditional.mixture_logits.copy_(torch.tensor([1.5, -1.0, 0.2]))
        model.gaussian_conditional.log_ratios.copy_(torch.tensor([-1.2, 0.3, 1.1]))
    path = tmp_path / weights_locator.weights_filename("torch", SLUG, 1)
    weights_io.save_model(model, path, {"model": SLUG, "class": ENTRY.compressai_class,
                                        "N": "8", "M": "12", "quality": "1",
                                        "lambda": "0.01", "metric": "mse"})
    loaded, _ = weights_io.load_model(path)
    for name in ("_quantized_cdf", "_cdf_length", "_offset"):
        assert torch.equal(getattr(loaded.gaussian_conditional, name),
                           getattr(model.gaussian_conditional, name)), name
    fresh = weights_io.build_model(ENTRY.compressai_class, 8, 12)
    fresh.update(force=True)
    assert not torch.equal(fresh.gaussian_conditional._cdf_length,
                           loaded.gaussian_conditional._cdf_length)


def test_variable_rate_training_resumes_exactly_and_learns_the_mixture(small_photo_dir,
                                                                       tmp_path):
    from safetensors.torch import load_file

    from codecbench.codecs.learned.hyperprior.torch.training import train
    from training_helpers import tiny_config

    def config(out, steps):
        return tiny_config(small_photo_dir, out, quality=None, variable_rate=True,
                           channels=(16, 16), steps=steps)

    name = f"torch/{SLUG}"
    straight = train(ENTRY, name, config(tmp_path / "a", 20))
    train(ENTRY, name, config(tmp_path / "b", 10))
    resumed = train(ENTRY, name, config(tmp_path / "b", 20))
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and "gain_units.gain" in a
    assert all(torch.equal(a[key], b[key]) for key in a)
    initial = torch.log(torch.tensor(layers.GSM_INITIAL_RATIOS))
    assert not torch.equal(a["gaussian_conditional.log_ratios"], initial)  # trained


def test_the_tf_twin_is_trained_by_converting_the_torch_one(tmp_path):
    pytest.importorskip("tensorflow")
    from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec
    from codecbench.codecs.learned.training_loop import TrainingError

    with pytest.raises(TrainingError, match=f"codecbench train torch/{SLUG}"):
        TFLearnedCodec(ENTRY).train(None)


def test_the_attention_plan_refuses_what_it_is_not():
    with pytest.raises(ValueError, match="mean-scale"):
        layers.prior_plan("hyperprior", 8, 12, architecture="attention")
    with pytest.raises(ValueError, match="architecture"):
        layers.prior_plan("mean-scale", 8, 12, architecture="transformer")
