"""Shards: a deterministic 1/N of a run's tasks, so N machines (a Slurm array, say) split
one evaluation without a cluster engine.

Task ``(codec, quality, dataset, image id)`` belongs to shard ``I`` of ``N`` when::

    int(SHA-256(codec ␀ quality ␀ dataset ␀ image id)[:8]) mod N = I − 1

so every task is in exactly one shard, whichever machine computes the split, and the
shards of a run are about equal in size. Each shard is an ordinary run folder whose
fingerprint records ``I/N``; ``codecbench leaderboard merge`` joins the N folders
(:mod:`codecbench.report.shard_merge`) into the leaderboard of the whole run, refusing
folders of different runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self):
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: want I/N with 1 ≤ I ≤ N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/8"`` → ``Shard(2, 8)``; a ``ValueError`` naming the form otherwise."""
        match = _SHARD.match(text)
        if match is None:
            raise ValueError(f"--shard wants I/N (e.g. 2/8), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def contains(self, key: tuple[str, str, str, str]) -> bool:
        """Whether the task of ``key`` (codec, quality, dataset, image id) is in this shard."""
        digest = hashlib.sha256("\0".join(key).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1
