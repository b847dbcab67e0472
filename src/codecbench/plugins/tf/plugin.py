"""Built-in plugin: the TensorFlow learned codecs (imports neither tensorflow nor tfc)."""

from __future__ import annotations

from codecbench.core.hookspecs import hookimpl
from codecbench.plugins.learned_models import LEARNED_MODELS
from codecbench.plugins.tf.codecs import TF_PRIORS, TFLearnedCodec


@hookimpl
def register_codecs(register):
    for entry in LEARNED_MODELS.values():
        if entry.prior in TF_PRIORS:
            register(TFLearnedCodec(entry))
