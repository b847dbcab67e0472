"""A table of plain Python values: what ``codecbench run`` writes and prints.

``rows.csv``, ``leaderboard.csv`` and the leaderboard printed at the end of a run are
built as a :class:`Table` — column names and rows of Python values (``str``, ``int``,
``float``, ``None``) — so that a run needs no table library. A missing number is ``None``
or ``nan`` (:func:`is_missing`). The report layer, which works on DataFrames, converts at
its boundary (:mod:`codecbench.harness.frames`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


def is_missing(value: object) -> bool:
    """Whether ``value`` is an empty cell: ``None`` or a float ``nan``."""
    return value is None or (isinstance(value, float) and value != value)


@dataclass
class Table:
    """Named columns and rows of values (one tuple per row, in column order)."""

    columns: list[str]
    rows: list[tuple] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]], columns: Sequence[str],
                     missing: object = None) -> Table:
        """A table of ``columns`` from mappings; a column a record lacks holds ``missing``."""
        columns = list(columns)
        return cls(columns, [tuple(record.get(c, missing) for c in columns)
                             for record in records])

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, column: str) -> int:
        """The position of ``column`` (``KeyError`` when there is none)."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise KeyError(column) from None

    def select(self, columns: Sequence[str]) -> Table:
        """A table of ``columns`` only, in that order."""
        at = [self.index(c) for c in columns]
        return Table(list(columns), [tuple(row[i] for i in at) for row in self.rows])

    def first_per(self, columns: Sequence[str]) -> Table:
        """A table of the first row of each distinct combination of ``columns``' values."""
        at = [self.index(c) for c in columns]
        seen: set[tuple] = set()
        rows = []
        for row in self.rows:
            key = tuple(row[i] for i in at)
            if key not in seen:
                seen.add(key)
                rows.append(row)
        return Table(list(self.columns), rows)

    def with_column(self, position: int, name: str, value: object) -> Table:
        """A copy with column ``name`` holding ``value`` in every row, inserted at
        ``position``."""
        columns = [*self.columns[:position], name, *self.columns[position:]]
        rows = [(*row[:position], value, *row[position:]) for row in self.rows]
        return Table(columns, rows)


def concat(tables: Sequence[Table]) -> Table:
    """The rows of ``tables`` one after the other; the columns are every table's, in order
    of first appearance, and a table lacking a column holds ``nan`` there."""
    columns: list[str] = []
    for table in tables:
        columns += [c for c in table.columns if c not in columns]
    rows: list[tuple] = []
    for table in tables:
        at = {c: i for i, c in enumerate(table.columns)}
        rows += [tuple(row[at[c]] if c in at else float("nan") for c in columns)
                 for row in table.rows]
    return Table(columns, rows)
