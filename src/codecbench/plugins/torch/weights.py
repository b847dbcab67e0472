"""Weights files of the torch learned codecs: where they are, what they are, how they load.

A weights file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file (plain
tensors: loading it cannot execute code) holding a CompressAI model's ``state_dict``
*after* ``model.update()``, so the learned CDF tables of the factorized (hyper)prior
travel with the weights. The Gaussian conditional's CDF table is left out: it is a
function of the scale table alone (a discretised unit normal per scale, not learned),
about 0.8 MB, and is rebuilt by CompressAI at load time. Its string metadata says what
it is::

    format     "codecbench-torch-weights/1"
    model      table slug, e.g. "bmshj2018-hyperprior"
    class      CompressAI class, e.g. "ScaleHyperprior"
    N, M       channel counts
    decoder_N  width of a distilled (narrower) synthesis transform, when present
    quality    rate point (1-based) the weights were trained for
    lambda     λ of the training loss
    metric     distortion of the training loss ("mse" or "ms-ssim")

Convolution kernels may be stored as float16 to keep the package small; they are
widened to float32 on load, identically on every machine, so every number the
codec reports is measured with exactly the shipped weights.

Lookup order for ``<slug>-q<quality>.safetensors``: every folder of the
``CODECBENCH_TORCH_WEIGHTS`` path list (``os.pathsep``-separated; how users plug in
weights they trained with ``codecbench train``), then the weights shipped in this
package. This module imports torch only inside the functions that load or save.

Every file is read as data only: safetensors files, and ``.pt`` files through
:func:`torch_load` (tensors and plain values; a file holding other pickled objects is
refused, never executed). A file that cannot be read so raises :class:`WeightsFileError`
naming it and saying why.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from codecbench.core.atomic import atomic_path

FORMAT = "codecbench-torch-weights/1"
WEIGHTS_ENV = "CODECBENCH_TORCH_WEIGHTS"
SHIPPED_WEIGHTS = Path(__file__).parent / "weights"


class WeightsFileError(ValueError):
    """A weights or checkpoint file that cannot be read; the message names it and says why."""


def _detail(exc: BaseException) -> str:
    """The first sentence of an error, for messages about a file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.split(". ")[0].rstrip(".")
    if "weights_only" in text.lower().replace(" ", "_") or not text or len(text) > 160:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def torch_load(path: Path, map_location="cpu"):
    """``torch.load`` of ``path`` as data only (``weights_only=True``: tensors and plain
    values). A corrupt file, or one holding other pickled objects (whose loading could
    run code, so it is never attempted), raises :class:`WeightsFileError`."""
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it does not expect
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways on a bad file
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if isinstance(exc, pickle.UnpicklingError) and found:
            raise WeightsFileError(
                f"{path} was refused: it holds a pickled {found.group(1)} object, not only "
                "tensors and plain values, and codecbench never loads a file whose loading "
                "could run code"
            ) from None
        raise WeightsFileError(f"{path} is not a readable torch file (corrupt, truncated, or "
                               f"not written by torch.save; {_detail(exc)})") from None


def weights_filename(slug: str, quality: int) -> str:
    return f"{slug}-q{quality}.safetensors"


def weights_folders() -> list[Path]:
    """The folders searched for weights, first match wins."""
    extra = [Path(p) for p in os.environ.get(WEIGHTS_ENV, "").split(os.pathsep) if p]
    return [*extra, SHIPPED_WEIGHTS]


def find_weights(slug: str, quality: int) -> Path | None:
    """The weights file of ``slug`` at rate point ``quality``, or ``None``."""
    return find_weights_file(weights_filename(slug, quality))


def find_weights_file(name: str) -> Path | None:
    """The first file called ``name`` in :func:`weights_folders`, or ``None``."""
    for folder in weights_folders():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def weights_id(path: Path) -> bytes:
    """First 8 bytes of the SHA-256 of the file: the id stored in every bitstream."""
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)[:8]


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()


def read_metadata(path: Path, expected_format: str = FORMAT) -> dict[str, str]:
    """The string metadata of a weights file (needs only the safetensors package);
    refuses a file whose ``format`` is not ``expected_format``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({_detail(exc)})") from None
    if metadata.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} weights file "
                         f"(format {metadata.get('format')!r})")
    return metadata


def build_model(class_name: str, N: int, M: int, decoder_N: int = 0):
    """A fresh CompressAI model of class ``class_name`` with ``N``/``M`` channels.

    ``decoder_N`` (when non-zero and not ``N``) replaces the synthesis transform ``g_s``
    by the same layers at width ``decoder_N`` (a distilled student decoder).
    """
    import compressai.models

    model = getattr(compressai.models, class_name)(N=N, M=M)
    if decoder_N and decoder_N != N:
        model.g_s = synthesis_transform(M, decoder_N)
    return model


def synthesis_transform(M: int, N: int):
    """Ballé's synthesis ``g_s`` as CompressAI's hyperprior models build it: three
    stride-2 5×5 transposed convolutions with inverse GDN, then one to RGB."""
    from compressai.layers import GDN
    from compressai.models.utils import deconv
    from torch import nn

    return nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N),
                         GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, 3))


REBUILT_BUFFERS = ("gaussian_conditional._quantized_cdf", "gaussian_conditional._offset",
                   "gaussian_conditional._cdf_length")
"""Buffers not stored: rebuilt from ``gaussian_conditional.scale_table`` on load."""


def load_model(path: Path):
    """``(model, metadata)``: the CompressAI model in eval mode on the CPU, with its CDFs."""
    from safetensors.torch import load_file

    metadata = read_metadata(path)
    try:
        model = build_model(metadata["class"], int(metadata["N"]), int(metadata["M"]),
                            int(metadata.get("decoder_N", 0)))
    except (KeyError, ValueError, AttributeError) as exc:
        raise WeightsFileError(f"{path}: its metadata names no model codecbench can build "
                               f"({_detail(exc)})") from None
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({_detail(exc)})") from None
    state = {name: tensor.float() if tensor.is_floating_point() else tensor
             for name, tensor in tensors.items()}
    try:
        if "gaussian_conditional.scale_table" in state:
            conditional = model.gaussian_conditional
            conditional.update_scale_table(state["gaussian_conditional.scale_table"],
                                           force=True)
            for name in REBUILT_BUFFERS:
                state.setdefault(name, getattr(conditional, name.split(".", 1)[1]))
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsFileError(f"{path}: its tensors do not fit a {metadata['class']} "
                               f"model ({str(exc).splitlines()[0]})") from None
    model.eval()
    return model, metadata


def save_model(model, path: Path, metadata: dict[str, str], half_kernels: bool = False) -> None:
    """Write ``model`` (after ``model.update(force=True)``) as a weights file.

    ``half_kernels`` stores 4-D convolution kernels as float16 (half the size; the
    codec measures whatever was stored). Written to a temporary name, then renamed.
    """
    model.update(force=True)
    state = {name: tensor for name, tensor in model.state_dict().items()
             if name not in REBUILT_BUFFERS}
    save_tensors(state, path, metadata, half_kernels)

def read_tensors(path: Path, kind: str) -> tuple[dict, dict[str, str]]:
    """``(numpy arrays, metadata)`` of a weights file of ``kind`` (``recurrent``,
    ``generative``; floats widened to float32). Needs only safetensors, not torch."""
    from safetensors.numpy import load_file

    metadata = read_metadata(path)
    if metadata.get("kind") != kind:
        raise ValueError(f"{path} holds a {metadata.get('kind', 'CNN')!r} model, "
                         f"not a {kind} one")
    try:
        loaded = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({_detail(exc)})") from None
    arrays = {name: array.astype("float32") if array.dtype.kind == "f" else array
              for name, array in loaded.items()}
    return arrays, metadata


def save_tensors(state: dict, path: Path, metadata: dict[str, str],
                 half_kernels: bool = False) -> None:
    """Write a ``state_dict`` (plus any extra tensors in it) with ``metadata`` and this
    module's format, atomically; ``half_kernels`` stores 4-D kernels as float16."""
    from safetensors.torch import save_file

    tensors = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        if half_kernels and tensor.ndim == 4 and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata={"format": FORMAT, **metadata})
        os.chmod(partial, 0o644)
