"""Parameters and MACs of the learned models, as measured (framework-free reader).

``model_complexity.json`` beside this module is written by
``scripts/measure_model_complexity.py`` (which runs the networks under torch's FLOP
counter, :mod:`codecbench.plugins.torch.complexity`, where the conventions are stated)
and checked against a fresh measurement by the tests. Reading it needs no framework, so
``codecbench list codecs --json`` shows it. The torch and TF twins of a model share its
entry (the same network).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

COMPLEXITY_FILE = Path(__file__).with_name("model_complexity.json")


@functools.lru_cache(maxsize=1)
def _document() -> dict:
    if not COMPLEXITY_FILE.exists():
        return {"models": {}}
    return json.loads(COMPLEXITY_FILE.read_text())


def complexity(slug: str) -> dict[str, dict] | None:
    """``{quality: {encoder_params, decoder_params, encoder_kmacs_per_pixel,
    decoder_kmacs_per_pixel}}`` of model ``slug`` (``None`` when not measured), plus the
    input size measured on under ``"measured_on"``."""
    entry = _document()["models"].get(slug)
    if entry is None:
        return None
    return {"measured_on": _document()["measured_on"], **entry}
