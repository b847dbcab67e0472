"""What the hyperprior family's codecs share in both frameworks: one network per rate point
of the model table (:class:`~codecbench.codecs.learned.models.LearnedModel`), its prior,
and whether the default run includes it."""

from __future__ import annotations

from typing import ClassVar

from codecbench.codecs.learned.codec import SingleShotCodec
from codecbench.codecs.learned.models import LearnedModel


class HyperpriorCodec(SingleShotCodec):
    """A model of the table on our weights (rate points = the table's λ)."""

    entry: LearnedModel
    library_note: ClassVar[str]
    """How the framework runs it, for the description (e.g. ``CompressAI``)."""

    def __init__(self, entry: LearnedModel):
        super().__init__(entry)
        self.prior = entry.prior
        self.in_default_run = self.framework in entry.default_run
        self.description = f"{entry.summary} ({self.library_note})"
