"""Built-in plugin: the TensorFlow learned codecs (imports neither tensorflow nor tfc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.api.hookspecs import hookimpl
from codecbench.codecs.learned.generative.tf.codecs import TFGenerativeCodec
from codecbench.codecs.learned.hyperprior.tf.codecs import TF_PRIORS, TFLearnedCodec
from codecbench.codecs.learned.models import GENERATIVE_MODELS, LEARNED_MODELS, RECURRENT_MODELS
from codecbench.codecs.learned.recurrent.tf.codecs import TFRecurrentCodec

if TYPE_CHECKING:
    from codecbench.codecs.learned.models import GenerativeModel, LearnedModel, RecurrentModel


@hookimpl
def register_codecs(register):
    entry: LearnedModel | RecurrentModel | GenerativeModel  # one loop variable for each table
    for entry in LEARNED_MODELS.values():
        if entry.prior in TF_PRIORS and not entry.decoder_N:  # no TF student decoders
            register(TFLearnedCodec(entry))
    for entry in RECURRENT_MODELS.values():
        register(TFRecurrentCodec(entry))
    for entry in GENERATIVE_MODELS.values():
        register(TFGenerativeCodec(entry))
