"""The learned-model families, and the codecs each offers in each framework.

A family is one folder of :mod:`codecbench.codecs.learned` (``recurrent/``,
``generative/``, …: its framework-free parts and a ``torch/`` and/or ``tf/`` subpackage)
whose ``<framework>/codecs.py`` has a ``codecs()`` function returning the family's codecs
in that framework. The framework plugins (:mod:`codecbench.codecs.learned.torch.plugin`,
:mod:`codecbench.codecs.learned.tf.plugin`) register what ``codecs()`` of every family in
:data:`FAMILIES` returns; a new family is its folder plus its name here. Nothing here
imports a framework, and registering reads no file.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from codecbench.api.codec import Codec

LEARNED_PACKAGE = "codecbench.codecs.learned"
FAMILIES: dict[str, tuple[str, ...]] = {
    "hyperprior": ("torch", "tf"),
    "recurrent": ("torch", "tf"),
    "generative": ("torch", "tf"),
    "waveone": ("torch", "tf"),
    "codespace": ("torch", "tf"),
    "context": ("torch", "tf"),
    "tiled": ("torch", "tf"),
}
"""Family folder → the framework subpackages holding its ``codecs.py``."""


def family_codecs(framework_folder: str) -> Iterator[Codec]:
    """Every codec of every family in ``framework_folder`` (``torch`` or ``tf``); their
    modules import the framework only inside methods."""
    for family, frameworks in FAMILIES.items():
        if framework_folder in frameworks:
            module = importlib.import_module(
                f"{LEARNED_PACKAGE}.{family}.{framework_folder}.codecs")
            yield from module.codecs()
