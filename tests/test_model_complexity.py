"""Parameters and MACs of the learned models: the committed table equals a fresh
measurement, the measurement equals the textbook count on a known layer, and
``codecbench list codecs --json`` shows it without importing torch."""

from __future__ import annotations

import json

import pytest

from codecbench.codecs.learned.complexity import complexity
from codecbench.codecs.learned.models import (
    CONDITIONAL_MODELS,
    GENERATIVE_MODELS,
    LEARNED_MODELS,
    RECURRENT_MODELS,
    WAVEONE_MODELS,
)
from helpers import run_cli


def test_every_model_and_rate_point_is_measured():
    for table in (LEARNED_MODELS, RECURRENT_MODELS, GENERATIVE_MODELS, WAVEONE_MODELS,
                  CONDITIONAL_MODELS):
        for slug, entry in table.items():
            measured = complexity(slug)
            assert measured is not None, slug
            assert measured["measured_on"] == "256x256"
            assert {str(q) for q in entry.qualities} <= set(measured), slug


def test_measurement_counts_a_convolution_as_the_textbook_does():
    torch = pytest.importorskip("torch")
    from codecbench.codecs.learned.torch.complexity import measure

    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.rand(1, 3, 10, 10)
    assert measure(lambda: conv(x)) == (8 * 3 * 9 + 8, 8 * 3 * 9 * 100)
    # a module used twice counts its parameters once and its MACs twice
    assert measure(lambda: conv(conv(x)[:, :3])) == (224, 2 * 21600)


def test_committed_table_equals_a_fresh_measurement():
    pytest.importorskip("compressai")
    from codecbench.codecs.learned.torch import complexity as measured

    for slug, entry in LEARNED_MODELS.items():
        assert complexity(slug)[str(entry.qualities[0])] == measured.compressai_model(entry)
    gc = GENERATIVE_MODELS["agustsson2019-gc"]
    for quality in gc.qualities:
        assert complexity(gc.slug)[str(quality)] == measured.generative_model(gc, quality)
    waveone = WAVEONE_MODELS["rippel2017-waveone"]
    assert complexity(waveone.slug)["6"] == measured.waveone_model(waveone)
    gru = RECURRENT_MODELS["toderici2017-gru"]
    for iterations in (1, 3):
        assert complexity(gru.slug)[str(iterations)] == measured.recurrent_model(gru, iterations)


def test_list_codecs_json_shows_it_for_learned_codecs_only():
    records = {r["name"]: r for r in json.loads(run_cli("list", "codecs", "--json").stdout)}
    hific = records["torch/hific"]["complexity"]
    assert hific["2"]["decoder_params"] > records["torch/hific-omgd"]["complexity"]["2"][
        "decoder_params"]
    assert records["jpeg"]["complexity"] is None
    if "tf/hific" in records:
        assert records["tf/hific"]["complexity"] == hific
