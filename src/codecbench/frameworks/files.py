"""The error every unreadable weights or checkpoint file raises, in every framework."""

from __future__ import annotations


class WeightsFileError(ValueError):
    """A weights or checkpoint file that cannot be read; the message names it and says why."""


def error_detail(exc: BaseException) -> str:
    """``Type: first sentence`` of an error, for one-line messages about a file (just the
    type when the text is empty, very long, or would suggest unsafe loading)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.split(". ")[0].rstrip(".")
    if "weights_only" in text.lower().replace(" ", "_") or not text or len(text) > 160:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}"
