"""Built-in plugin ``torch-learned``: every family's PyTorch codecs
(:mod:`codecbench.codecs.learned.families`); imports neither torch nor CompressAI."""

from __future__ import annotations

from codecbench.api.hookspecs import hookimpl
from codecbench.codecs.learned.families import family_codecs


@hookimpl
def register_codecs(register):
    for codec in family_codecs("torch"):
        register(codec)
