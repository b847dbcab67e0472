"""Built-in plugin: the torch learned codecs (imports neither torch nor CompressAI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.core.hookspecs import hookimpl
from codecbench.plugins.learned_models import (
    COMPRESSAI_ZOO,
    GENERATIVE_MODELS,
    LEARNED_MODELS,
    RECURRENT_MODELS,
    WAVEONE_MODELS,
)
from codecbench.plugins.torch.codecs import CompressAIZooCodec, TorchLearnedCodec
from codecbench.plugins.torch.generative_codecs import TorchGenerativeCodec
from codecbench.plugins.torch.recurrent_codecs import TorchRecurrentCodec
from codecbench.plugins.torch.waveone_codecs import TorchWaveOneCodec

if TYPE_CHECKING:
    from codecbench.plugins.learned_models import (
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
