"""Built-in plugin: the torch learned codecs (imports neither torch nor CompressAI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.api.hookspecs import hookimpl
from codecbench.codecs.learned.generative.torch.codecs import TorchGenerativeCodec
from codecbench.codecs.learned.hyperprior.torch.codecs import CompressAIZooCodec, TorchLearnedCodec
from codecbench.codecs.learned.models import (
    COMPRESSAI_ZOO,
    GENERATIVE_MODELS,
    LEARNED_MODELS,
    RECURRENT_MODELS,
    WAVEONE_MODELS,
)
from codecbench.codecs.learned.recurrent.torch.codecs import TorchRecurrentCodec
from codecbench.codecs.learned.waveone.torch.codecs import TorchWaveOneCodec

if TYPE_CHECKING:
    from codecbench.codecs.learned.models import (
        GenerativeModel,
        LearnedModel,
        RecurrentModel,
        WaveOneModel,
    )


@hookimpl
def register_codecs(register):
    entry: LearnedModel | RecurrentModel | GenerativeModel | WaveOneModel  # one loop variable for each table
    for entry in LEARNED_MODELS.values():
        register(TorchLearnedCodec(entry))
    for entry in RECURRENT_MODELS.values():
        register(TorchRecurrentCodec(entry))
    for entry in GENERATIVE_MODELS.values():
        register(TorchGenerativeCodec(entry))
    for entry in WAVEONE_MODELS.values():
        register(TorchWaveOneCodec(entry))
    for zoo_name in COMPRESSAI_ZOO:
        register(CompressAIZooCodec(zoo_name))
