"""Built-in plugin ``tf-learned``: every family's TensorFlow codecs
(:mod:`codecbench.codecs.learned.families`); imports neither tensorflow nor tfc."""

from __future__ import annotations

from codecbench.api.hookspecs import hookimpl
from codecbench.codecs.learned.families import family_codecs


@hookimpl
def register_codecs(register):
    for codec in family_codecs("tf"):
        register(codec)
