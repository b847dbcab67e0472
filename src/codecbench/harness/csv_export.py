"""CSV writing that reads back exactly and is safe to open in a spreadsheet.

Every results CSV codecbench writes (``rows.csv``, ``leaderboard.csv``, ``bd.csv``,
``families.csv``, merged leaderboards) goes through :func:`write_csv`, from a
:class:`~codecbench.harness.table.Table` (a run) or a DataFrame (the reports, converted
by :func:`~codecbench.harness.frames.table_of`); the cells are formatted by value, the
same from either:

* **Quoting.** A text cell (or column name) holding a delimiter, a double quote, a
  carriage return, a line feed or another line break (``\\v``, ``\\f``, ``\\x1c``–``\\x1e``,
  ``\\x85``, U+2028, U+2029) is written between double quotes, quotes doubled (RFC 4180),
  so it reads back as one cell of one row with the same text — with ``pandas.read_csv``
  and with Python's :mod:`csv` (file opened with ``newline=""``). A NUL character, which
  C parsers take for the end of a cell, is written as U+FFFD. Other text, numbers
  (floats as ``%.10g``, ``inf``/``-inf``) and empty cells (``None``, ``NaN``) are written
  bare; an empty cell is empty. Lines end with ``\\n``; the file is UTF-8.
* **Formula neutralisation.** Excel, LibreOffice and Google Sheets run a text cell as a
  formula (CSV injection) when it starts with ``=``, ``+``, ``-`` or ``@`` — also after
  leading whitespace (spaces, tabs, CR, LF, NBSP, the other Unicode spaces) or
  zero-width characters (U+200B–U+200D, U+2060, U+FEFF), and in their full-width forms
  ``＝ ＋ － ＠`` (U+FF1D, U+FF0B, U+FF0D, U+FF20) — or when it starts with a tab or a
  carriage return. Such a text cell, and such a column name, is written with a leading
  ``'`` (the OWASP recommendation): a plugin naming its codec ``=HYPERLINK(...)`` shows
  up as the literal text ``'=HYPERLINK(...)``. Numbers are never prefixed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codecbench.api.atomic import atomic_write
from codecbench.harness.table import Table

if TYPE_CHECKING:
    import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make a cell a formula when they come first (see :func:`is_formula`
for the whitespace, zero-width and full-width variants)."""
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
"""``= + - @`` and their full-width forms: a formula when first after spacing."""
ALWAYS_FORMULA_STARTS = frozenset("\t\r")
"""A cell starting with one of these is treated as a formula whatever follows."""
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
NEEDS_QUOTES = re.compile('[,"\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]')
NUL_REPLACEMENT = "\ufffd"
FLOAT_FORMAT = "%.10g"
LINE_END = "\n"


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula (module docstring)."""
    if not text:
        return False
    if text[0] in ALWAYS_FORMULA_STARTS:
        return True
    for char in text:
        if char.isspace() or char in ZERO_WIDTH:
            continue
        return char in FORMULA_STARTS
    return False


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value


def quote_text(text: str) -> str:
    """``text`` as a CSV field: between double quotes (doubled inside) when it must be."""
    if NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _text_field(text: str) -> str:
    if "\x00" in text:  # a NUL ends a cell for C parsers (pandas): never written
        text = text.replace("\x00", NUL_REPLACEMENT)
    return quote_text(str(neutralise_cell(text)))


def format_cell(value: object) -> str:
    """One cell as written: numbers bare, missing values empty, text neutralised and quoted.

    A DataFrame's other missing values (``pd.NA``, ``NaT``) are ``None`` by then
    (:func:`~codecbench.harness.frames.table_of`)."""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else FLOAT_FORMAT % value
    if value is None:
        return ""
    if isinstance(value, str):
        return _text_field(value)
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return _text_field(str(value))


def csv_text(table: Table) -> str:
    """The CSV text of ``table`` (header, then one line per row), as :func:`write_csv`
    writes it."""
    lines = [[_text_field(str(c)) for c in table.columns]]
    lines += [[format_cell(v) for v in row] for row in table.rows]
    out = []
    for fields in lines:
        # a lone empty field would be a blank line, which readers skip
        out.append('""' if len(fields) == 1 and fields[0] == "" else ",".join(fields))
    return LINE_END.join(out) + LINE_END


def write_csv(table: Table | pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` to ``path`` (module docstring) atomically: a temporary file renamed."""
    if not isinstance(table, Table):
        from codecbench.harness.frames import table_of

        table = table_of(table)
    path = Path(path)
    atomic_write(path, csv_text(table), encoding="utf-8", newline="")
    return path
