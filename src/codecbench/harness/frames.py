"""DataFrames of the harness's tables, and tables of DataFrames (the report layer's side).

The harness computes its tables in plain Python (:mod:`codecbench.harness.table`); the
report layer (BD tables, RD plots, views, merges) works on DataFrames. This module is
where the two meet, and the only harness module that imports pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from codecbench.harness.table import Table


def table_of(frame: pd.DataFrame) -> Table:
    """``frame`` as a :class:`Table` of Python values (no index); ``pd.NA``, ``NaT`` and
    the other missing values of non-float columns become ``None``."""
    columns = []
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        cells = values.tolist()
        if not (isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf"):
            missing = values.isna().tolist()
            cells = [None if gone else cell for cell, gone in zip(cells, missing, strict=True)]
        columns.append(cells)
    return Table(list(frame.columns), list(zip(*columns, strict=True)))


def frame_of(table: Table) -> pd.DataFrame:
    """``table`` as a DataFrame, each column's type inferred from its values (a leaderboard:
    text, float means, integer counts; a float column where a count is missing)."""
    return pd.DataFrame.from_records(table.rows, columns=table.columns)
