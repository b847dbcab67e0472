"""CSV writing that is safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets (CSV
injection). Every text cell written by codecbench is neutralised by
prefixing such cells with a single quote (the OWASP recommendation); numbers
are written as numbers. A plugin naming its codec ``=HYPERLINK(...)`` thus
shows up as the literal text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are neutralised."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(c) for c in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` atomically (temp file + rename), neutralised."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    neutralise_frame(frame).to_csv(tmp, index=False, float_format="%.10g")
    tmp.replace(path)
    return path
