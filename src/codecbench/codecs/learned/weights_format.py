"""The weights file of codecbench's learned codecs, read without any framework.

A weights file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file (plain
tensors: loading it cannot execute code) with string metadata; ``format`` says whose
layout its tensors have (:data:`FORMAT` for torch ``state_dict`` s, :data:`TF_FORMAT`
for the TensorFlow twins' variables) and ``kind`` which family wrote it (absent for the
CNN models). Its id, stored in every bitstream, is the first 8 bytes of its SHA-256; a
shipped file (:func:`~codecbench.codecs.learned.weights_locator.is_shipped`) whose
SHA-256 differs from the ``codecbench-models`` manifest is refused when loaded.

Needs only numpy and the safetensors package.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from codecbench.codecs.learned import weights_locator
from codecbench.frameworks.files import WeightsFileError, error_detail

FORMAT = "codecbench-torch-weights/1"
TF_FORMAT = "codecbench-tf-weights/1"


def weights_id(path: Path) -> bytes:
    """First 8 bytes of the SHA-256 of the file: the id stored in every bitstream. A
    shipped file must match the manifest of its distribution."""
    stat = path.stat()
    digest = _digest(str(path), stat.st_size, stat.st_mtime_ns)
    if weights_locator.is_shipped(path):
        expected = shipped_manifest().get(path.name)
        if expected != digest.hex():
            found = "is not in its manifest" if expected is None else (
                f"has SHA-256 {digest.hex()[:16]}…, its manifest says {expected[:16]}…")
            raise WeightsFileError(
                f"{path} {found}: the {weights_locator.MODELS_DISTRIBUTION} installation is "
                "damaged; reinstall it")
    return digest[:8]


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()


@functools.lru_cache(maxsize=1)
def shipped_manifest() -> dict[str, str]:
    """``file name → SHA-256 hex`` of the shipped weights (``sha256sum`` format)."""
    folder = weights_locator.shipped_weights_folder()
    manifest = folder / weights_locator.MANIFEST_NAME if folder is not None else None
    if manifest is None or not manifest.is_file():
        return {}
    entries = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            entries[name.lstrip("*")] = digest.lower()
    return entries


def read_metadata(path: Path, expected_format: str = FORMAT) -> dict[str, str]:
    """The string metadata of a weights file; refuses a file whose ``format`` is not
    ``expected_format``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({error_detail(exc)})") from None
    if metadata.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} weights file "
                         f"(format {metadata.get('format')!r})")
    return metadata


def rate_point_id(weights_id: bytes, quality: int) -> bytes:
    """The id of rate point ``quality`` of a weights file of id ``weights_id`` that serves
    several rate points: the first bytes of ``SHA-256(weights_id ‖ quality)``."""
    return hashlib.sha256(bytes(weights_id) + bytes([quality])).digest()[:len(weights_id)]


MAX_RATE_POINTS = 64
"""Most rate points a variable-rate file may declare (the table's ladders have 3–5)."""


def rate_points(path: Path, metadata: dict[str, str]) -> int:
    """The ``rate_points`` metadata of a variable-rate file (one network with gain units for
    every rate point), ``0`` for a file of one rate point; anything else is refused."""
    value = metadata.get("rate_points", "0")
    if not value.isdigit() or int(value) == 1 or int(value) > MAX_RATE_POINTS:
        raise WeightsFileError(f"{path}: invalid 'rate_points' metadata {value!r} "
                               f"(a count of 2–{MAX_RATE_POINTS})")
    return int(value)


def read_tensors(path: Path, kind: str, expected_format: str = FORMAT) -> tuple[dict, dict[str, str]]:
    """``(numpy arrays, metadata)`` of a weights file of ``kind`` (``recurrent``,
    ``generative``, ``waveone``; floats widened to float32)."""
    from safetensors.numpy import load_file

    metadata = read_metadata(path, expected_format)
    if metadata.get("kind") != kind:
        raise ValueError(f"{path} holds a {metadata.get('kind', 'CNN')!r} model, "
                         f"not a {kind} one")
    try:
        loaded = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise WeightsFileError(f"{path} is not a readable safetensors file "
                               f"({error_detail(exc)})") from None
    arrays = {name: array.astype("float32") if array.dtype.kind == "f" else array
              for name, array in loaded.items()}
    return arrays, metadata
