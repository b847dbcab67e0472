"""Optional capabilities of codecs and datasets, as small typed protocols.

A plugin offers a capability by having the method; codecbench asks with
``isinstance(obj, Trainable)`` (the protocols are runtime-checkable: the method's
presence is what counts), so no plugin needs to subclass anything here.

================  ========  =================================================  ==========================
protocol          on        method                                             used by
================  ========  =================================================  ==========================
``Trainable``     codec     ``train(config: TrainingConfig) -> TrainingResult``  ``codecbench train``
``Convertible``   codec     ``convert_from(source, quality, out_dir) -> Path``   ``codecbench convert``
``WeightsFolder`` codec     ``weights_env``: the variable naming the folders     ``codecbench convert``'s
                            it reads weights from                                hint
``Progressive``   codec     ``truncate(data, count) -> bytes``: the file of the  progressive RD sweeps,
                            first ``count`` latents, byte-identical to encoding  tests
                            at rate point ``count``
``Verifiable``    dataset   ``verify() -> list[str]`` (problems; empty = OK)     ``codecbench datasets verify``
``FileRecord``    dataset   ``provenance() -> dict`` (where the files came from  ``run.json``
                            and their checksums)
================  ========  =================================================  ==========================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from codecbench.api.codec import Codec
    from codecbench.api.training import TrainingConfig, TrainingResult


@runtime_checkable
class Trainable(Protocol):
    """A codec ``codecbench train NAME`` can train (see :mod:`codecbench.api.training`)."""

    def train(self, config: TrainingConfig) -> TrainingResult:
        """Train into ``config.out`` (checkpoints, exact resume, ``training.json``, the weights)."""
        ...


@runtime_checkable
class Convertible(Protocol):
    """A codec that can write its own weights file from another codec's weights."""

    def convert_from(self, source: Codec, quality: int, out_dir: Path) -> Path:
        """Write the weights of ``source``'s rate point ``quality`` in this codec's layout
        into ``out_dir``; return the file. ``ValueError`` when ``source`` does not fit."""
        ...


@runtime_checkable
class WeightsFolder(Protocol):
    """A codec that reads weights from the folders of an environment variable."""

    @property
    def weights_env(self) -> str:
        """The variable whose folders the codec reads (converted) weights from."""
        ...


@runtime_checkable
class Progressive(Protocol):
    """A codec whose file at rate point ``k`` is the first ``k`` latents of any larger one."""

    def truncate(self, data: bytes, count: int) -> bytes:
        """The file of the first ``count`` latents of ``data`` (nothing re-encoded)."""
        ...


@runtime_checkable
class Verifiable(Protocol):
    """A dataset that can check its own files (checksums, presence, expected count)."""

    def verify(self) -> list[str]:
        """Every problem found, one line each; an empty list means complete and intact."""
        ...


@runtime_checkable
class FileRecord(Protocol):
    """A dataset that records where its files came from, for ``run.json``."""

    def provenance(self) -> dict:
        """URLs, checksums and retrieval details of the dataset's files (JSON-serialisable)."""
        ...
