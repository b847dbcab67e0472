"""Parameters and MACs of the learned models, as measured (framework-free reader).

``model_complexity.json`` beside this module is written by
``scripts/measure_model_complexity.py`` (which runs the networks under torch's FLOP
counter, :mod:`codecbench.codecs.learned.torch.complexity`, where the conventions are stated)
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


def markdown_lines(slug: str, qualities) -> list[str]:
    """The model-card section: parameters and kMAC/pixel of encoder and decoder at each of
    ``qualities`` (one row pair per quality; one table when they are all the same)."""
    measured = complexity(slug)
    assert measured is not None  # model cards are made for measured models only
    rows = {str(q): measured[str(q)] for q in qualities}
    distinct = {json.dumps(r, sort_keys=True) for r in rows.values()}
    lines = ["**Parameters and MACs.**", "",
             "| rate point | part | parameters | kMAC / pixel |", "|---|---|---|---|"]
    labels = {"all": next(iter(rows.values()))} if len(distinct) == 1 else rows
    for label, record in labels.items():
        for part in ("encoder", "decoder"):
            lines.append(f"| {label} | {part} | {record[part + '_params']:,} | "
                         f"{record[part + '_kmacs_per_pixel']:.2f} |")
    return [*lines, "", f"Measured with torch's FLOP counter on a {measured['measured_on']} "
            "input (`codecs/learned/model_complexity.json`; convolutions and matrix products, "
            "entropy coding excluded).", ""]
