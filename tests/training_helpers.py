"""Helpers shared by the training tests of every framework."""

import csv

from codecbench.api.training import TrainingConfig


def tiny_config(data, out, **changes) -> TrainingConfig:
    """A tiny λ-trained run (quality 3, N = M = 8, 64² crops, no schedule) with ``changes``."""
    options = dict(data=data, out=out, quality=3, steps=30, batch_size=2, patch_size=64,
                   learning_rate=1e-3, channels=(8, 8), log_every=5, checkpoint_every=5,
                   lr_milestones=(), progress=False)
    options.update(changes)
    return TrainingConfig(**options)


def curves(out):
    """The rows of a run's ``curves.csv``."""
    with (out / "curves.csv").open() as handle:
        return list(csv.DictReader(handle))
