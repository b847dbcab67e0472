"""Write ``src/codecbench/codecs/learned/model_complexity.json``: parameters and MACs per pixel of
the encoder and decoder of every learned model at every rate point, measured with
:mod:`codecbench.codecs.learned.torch.complexity` (what ``codecbench list codecs --json`` and the
model cards show without importing torch). ``tests/test_model_complexity.py`` re-measures
and compares. Usage: ``python scripts/measure_model_complexity.py``.
"""

from __future__ import annotations

import json

from codecbench.codecs.learned.complexity import COMPLEXITY_FILE
from codecbench.codecs.learned.torch.complexity import MEASURE_SIZE, all_models


def main():
    document = {"measured_on": f"{MEASURE_SIZE}x{MEASURE_SIZE}", "models": all_models()}
    COMPLEXITY_FILE.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {COMPLEXITY_FILE}")


if __name__ == "__main__":
    main()
