"""Where the weights of a learned codec are: one locator for lookup, training export and
conversion.

A weights file is named by framework, model slug and rate point::

    torch        <slug>-q<quality>.safetensors      one network per rate point
                 <slug>.safetensors                 one network for every rate point
    tensorflow   <slug>-q<quality>.tf.safetensors   (the same, in TensorFlow's layout)
                 <slug>.tf.safetensors

and found, first match wins, in every folder of the framework's path list
(``CODECBENCH_TORCH_WEIGHTS`` / ``CODECBENCH_TF_WEIGHTS``, ``os.pathsep``-separated: where
users put weights they trained with ``codecbench train`` or wrote with ``codecbench
convert``), then among the weights we ship: the ``codecbench-models`` distribution
(:data:`MODELS_DISTRIBUTION`, package ``codecbench_models``), whose files are checked
against its SHA-256 manifest when they are loaded (:mod:`.weights_format`). TensorFlow
codecs convert the torch weights at load time, so only torch weights are shipped.

Framework-free: nothing here imports torch or tensorflow, and finding a file reads
no more than a directory entry.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

MODELS_DISTRIBUTION = "codecbench-models"
MODELS_PACKAGE = "codecbench_models"
MANIFEST_NAME = "SHA256SUMS"

WEIGHTS_ENV = {"torch": "CODECBENCH_TORCH_WEIGHTS", "tensorflow": "CODECBENCH_TF_WEIGHTS"}
"""The path-list variable of each framework."""
SUFFIX = {"torch": ".safetensors", "tensorflow": ".tf.safetensors"}


def _framework(framework: str) -> str:
    if framework not in WEIGHTS_ENV:
        raise ValueError(f"no weights locator for framework {framework!r}; "
                         f"known: {', '.join(WEIGHTS_ENV)}")
    return framework


def weights_env(framework: str) -> str:
    """The variable naming the folders searched first for ``framework``'s weights."""
    return WEIGHTS_ENV[_framework(framework)]


def weights_filename(framework: str, slug: str, quality: int | None = None,
                     lmbda: float | None = None) -> str:
    """``<slug>-q<quality>`` (or ``<slug>`` for one network for every rate point, or
    ``<slug>-lambda<λ>`` for a training run at a λ of no rate point; a rate point wins) plus
    the framework's suffix."""
    if quality:
        stem = f"{slug}-q{int(quality)}"
    elif lmbda is not None:
        stem = f"{slug}-lambda{lmbda:g}"
    else:
        stem = slug
    return stem + SUFFIX[_framework(framework)]


def is_tf_layout(path: Path | str) -> bool:
    """Whether ``path`` names a TensorFlow-layout file (``….tf.safetensors``)."""
    return str(path).endswith(SUFFIX["tensorflow"])


@functools.lru_cache(maxsize=1)
def shipped_weights_folder() -> Path | None:
    """The weights folder of the installed ``codecbench-models`` distribution, or ``None``
    (found without importing it; once per process: every decode checks its weights id)."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "weights"
    return folder if folder.is_dir() else None


def weights_folders(framework: str) -> list[Path]:
    """The folders searched for ``framework``'s weights, first match wins."""
    extra = [Path(p) for p in os.environ.get(weights_env(framework), "").split(os.pathsep) if p]
    shipped = shipped_weights_folder() if framework == "torch" else None
    return [*extra, shipped] if shipped is not None else extra


def find_weights(framework: str, slug: str, quality: int | None = None,
                 variable_rate: bool = False) -> Path | None:
    """The weights file of ``slug`` (at rate point ``quality``, or for every rate point
    when ``None``) for ``framework``, or ``None``.

    ``variable_rate``: a rate point without a file of its own in a folder may use the
    folder's one network for every rate point (``<slug>`` without ``-q<k>``); folders are
    searched in order (yours before the shipped ones), so your variable-rate file wins over
    a shipped file of the rate point.
    """
    names = [weights_filename(framework, slug, quality)]
    if variable_rate and quality is not None:
        names.append(weights_filename(framework, slug))
    for folder in weights_folders(framework):
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def is_shipped(path: Path) -> bool:
    """Whether ``path`` is one of the files of the ``codecbench-models`` distribution."""
    shipped = shipped_weights_folder()
    return shipped is not None and Path(path).parent.resolve() == shipped.resolve()


def no_weights_hint(framework: str, trained_by: str = "") -> str:
    """Where weights come from, for a codec that has none: ``trained_by`` (e.g. a
    ``codecbench train`` command) and the folder variable, and the shipped distribution."""
    train = f"train with '{trained_by}' and " if trained_by else ""
    shipped = (f", or install {MODELS_DISTRIBUTION} (pip install ./models from the "
               "codecbench repository) for the weights we ship" if framework == "torch" else "")
    return f"no weights: {train}put the weights folder in ${weights_env(framework)}{shipped}"
