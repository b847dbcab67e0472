"""Where learned codecs and learned metrics run: ``--device`` and its environment variables.

The torch modules read ``CODECBENCH_TORCH_DEVICE`` (``cpu``, ``cuda``, ``cuda:N``), the
TensorFlow modules ``CODECBENCH_TF_DEVICE`` (``cpu``, ``gpu``, ``gpu:N``), when a codec is
used — in whatever process runs the task. ``codecbench run --device cuda:1`` sets both
(:func:`device_environment`) for the run's own process and its workers (Ray workers get
them through the task's runtime environment). Entropy coding stays on the CPU, so a file
encoded on a GPU decodes on a CPU.
"""

from __future__ import annotations

import re

TORCH_DEVICE_ENV = "CODECBENCH_TORCH_DEVICE"
TF_DEVICE_ENV = "CODECBENCH_TF_DEVICE"
_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d{1,3}))?$")


def device_environment(device: str) -> dict[str, str]:
    """``{TORCH_DEVICE_ENV: …, TF_DEVICE_ENV: …}`` for ``device`` (``cpu``, ``cuda`` or
    ``cuda:N``); a ``ValueError`` naming the valid forms otherwise."""
    match = _DEVICE.match(device.strip().lower())
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    kind, index = match.groups()
    if kind == "cpu":
        return {TORCH_DEVICE_ENV: "cpu", TF_DEVICE_ENV: "cpu"}
    suffix = f":{int(index)}" if index is not None else ""
    return {TORCH_DEVICE_ENV: f"cuda{suffix}", TF_DEVICE_ENV: f"gpu{suffix}"}


def uses_gpu(device: str) -> bool:
    return device_environment(device)[TORCH_DEVICE_ENV] != "cpu"
