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
    """``frame`` with its text cells (and column names) neutralised; a copy when anything changed."""
    safe = frame
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        mask = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_TRIGGERS))
        if mask.any():
            if safe is frame:
                safe = frame.copy()
            safe[column] = values.where(~mask, "'" + values[mask].astype(str))
    if any(isinstance(c, str) and c.startswith(FORMULA_TRIGGERS) for c in frame.columns):
        safe = safe.rename(columns=neutralise_cell)
    return safe


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` atomically (temp file + rename), neutralised."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    neutralise_frame(frame).to_csv(tmp, index=False, float_format="%.10g")
    tmp.replace(path)
    return path
