"""The shipped weights folder of this repository (the ``codecbench-models`` distribution),
and, run as a script, the writer of its manifest ``SHA256SUMS``: the SHA-256 of every
weights file in ``sha256sum`` format (``sha256sum -c SHA256SUMS`` checks it too).

Run ``python scripts/shipped_weights.py`` after the shipped weights change: codecbench
refuses a shipped file whose hash differs from the manifest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "src" / "codecbench_models" / "weights"


def main() -> None:
    lines = []
    for path in sorted(SHIPPED_WEIGHTS.glob("*.safetensors")):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
    (SHIPPED_WEIGHTS / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {SHIPPED_WEIGHTS / 'SHA256SUMS'} ({len(lines)} files)")


if __name__ == "__main__":
    main()
