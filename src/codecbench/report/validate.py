"""``codecbench leaderboard validate``: is a CSV someone sent a sound codecbench export?

The input is a ``leaderboard.csv`` or a ``rows.csv`` (recognised by its ``image_id``
column), or a run folder (its ``rows.csv`` and ``leaderboard.csv``). Every problem is
reported with its rows (1-based data rows, as a spreadsheet shows them after the header)
and column; a problem found in several rows is one line with their count, the first five
row numbers and how many more.

Reading. The file must be UTF-8 text (a byte-order mark is allowed) in well-formed CSV:
no NUL byte, closed quotes, every row with as many fields as the header, no repeated
column name. Otherwise the file is one problem (undecodable, empty, binary, ragged) and
nothing else is checked.

Schema. ``schema_version`` is :data:`CSV_SCHEMA_VERSION` in every row; the required
columns are there (a leaderboard has ``n_<metric>`` for each metric column).

Numbers. Every cell outside the text columns is a number written as digits, ``inf`` or
``-inf``, or empty (no value). ``nan`` text is never valid: an absent value is an empty
cell. A value must be finite (``1e309`` overflows to infinity) unless the column's metric
allows infinity (``psnr``, ``psnr-y``, ``ms-ssim-db`` of a lossless reconstruction, and a
leaderboard mean over such images). Ranges:

* rows: ``width``, ``height`` positive whole numbers; ``bytes`` a whole number ≥ 0;
  ``bpp``, ``encode_s``, ``decode_s`` ≥ 0;
* leaderboards: ``bytes``, ``bpp``, ``encode_s``, ``decode_s`` ≥ 0 (means);
  ``n_images``, ``n_errors``, ``n_<metric>`` whole numbers ≥ 0;
* a metric column: its :class:`~codecbench.api.metric.MetricSpec` ``valid_range``
  (inclusive). Specs come from the run's ``run.json`` (the one in the run folder, or
  beside the file) and then from the installed metrics. A numeric column no spec names
  is checked for finiteness only and reported as a note, which is not a failure.

Consistency of a row with itself:

* rows: a row with an ``error`` holds no measurement (``bytes``, ``bpp``, metrics and
  times empty); a row without one has ``width``, ``height``, ``bytes`` and ``bpp``, and
  ``bpp = 8 × bytes / (width × height)``; a finite ``psnr`` is at most
  ``10·log10(255² · 3 · width · height)`` (one sample off by one, the smallest error an
  8-bit image can have); ``metric_errors`` is empty or a JSON object
  ``{"metric": "message"}`` whose metric columns are empty in that row;
* leaderboards (a row is a group of tasks: ``n_images`` measured, ``n_errors`` failed):
  ``n_images + n_errors ≥ 1``; ``n_<metric> ≤ n_images``; a metric value needs
  ``n_<metric> ≥ 1``; a row with ``n_images = 0`` holds no mean, one with
  ``n_images ≥ 1`` has ``bytes`` and ``bpp``. ``n_errors`` may exceed ``n_images``
  (a group whose tasks all failed).

Others: one row per dataset × dataset hash × codec × codec version × quality (leaderboard)
or per codec × quality × dataset × image (rows); no text cell or column name a spreadsheet
would run as a formula (:func:`codecbench.harness.csv_export.is_formula`) unless neutralised
with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.api.metric import MetricSpec
from codecbench.harness.csv_export import is_formula
from codecbench.harness.schema import (
    CSV_SCHEMA_VERSION,
    KEY_COLUMNS,
    METRIC_COUNT_PREFIX,
    metric_count_column,
)

LEADERBOARD_REQUIRED = ("schema_version", "dataset_hash", "dataset", "codec", "codec_version",
                        "framework", "family", "quality", "bytes", "bpp", "encode_s",
                        "decode_s", "n_images", "n_errors")
ROWS_REQUIRED = ("schema_version", "dataset_hash", "codec", "codec_version", "framework",
                 "family", "quality", "dataset", "image_id", "width", "height", "bytes", "bpp",
                 "encode_s", "decode_s", "error", "metric_errors")
LEADERBOARD_KEY = ("dataset", "dataset_hash", "codec", "codec_version", "quality")
TEXT_COLUMNS = {"dataset_hash", "dataset", "codec", "codec_version", "framework", "family",
                "quality", "image_id", "error", "metric_errors", "source", "conflict",
                "source_machine"}
MEASUREMENT_COLUMNS = ("bytes", "bpp", "encode_s", "decode_s")
MAX_LISTED_ROWS = 5
PSNR_PEAK = 255.0
RELATIVE_TOLERANCE = 1e-7
"""Of ``bpp`` against ``8 × bytes / (width × height)`` (CSV numbers have 10 digits)."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?",
                     re.IGNORECASE)
_NAN = re.compile(r"[+-]?nan", re.IGNORECASE)
_PLAIN = re.compile(r"[0-9eE.+\-\x00]*")


@dataclass(frozen=True)
class Problem:
    """One finding: where (row, column; ``None`` for the whole file) and what.

    ``rows`` lists every row when the finding concerns several (then ``row`` is ``None``);
    a ``note`` is information, not a failure.
    """

    row: int | None
    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    note: bool = False

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where) or 'file'}: {self.message}"
        if len(self.rows) > 1:
            text += f" (rows {row_list(self.rows)})"
        return text


def row_list(rows: Sequence[int]) -> str:
    """``3, 5, 9, 11, 12 and 4 more``: the first :data:`MAX_LISTED_ROWS`, then a count."""
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED_ROWS])
    more = len(rows) - MAX_LISTED_ROWS
    return f"{shown} and {more} more" if more > 0 else shown


def is_number_text(text: str) -> bool:
    """Whether ``text`` is a number as CSVs write them (digits, ``inf``; not ``nan``)."""
    return bool(_NUMBER.fullmatch(text))


def _show(text: str) -> str:
    """A cell for a message: numbers as written, other text quoted (and shortened)."""
    if _NUMBER.fullmatch(text):
        return text
    return repr(text if len(text) <= 40 else text[:37] + "...")


class CsvReadError(ValueError):
    """The file is no readable CSV (message: why, in one line)."""


def read_csv_text(path: Path) -> pd.DataFrame:
    """The CSV with every cell as text, exactly as written; :class:`CsvReadError` when the
    file is not UTF-8 CSV text with one field per header column in every row."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CsvReadError(f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise CsvReadError("empty file: no header row")
    if b"\x00" in data:
        raise CsvReadError("binary file (NUL bytes), not CSV text (codecbench CSVs are UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvReadError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                           f"{exc.start} (codecbench CSVs are UTF-8)") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise CsvReadError(f"malformed CSV near line {reader.line_num}: {exc}") from None
    while records and not records[-1]:  # blank lines at the end
        records.pop()
    if not records or not records[0]:
        raise CsvReadError("empty file: no header row")
    header, body = records[0], records[1:]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise CsvReadError("column name(s) repeated in the header: "
                           + ", ".join(repr(c) for c in repeated))
    ragged = [(number, len(fields)) for number, fields in enumerate(body, start=1)
              if len(fields) != len(header)]
    if ragged:
        listed = ", ".join(f"{row} ({n} field{'s' * (n != 1)})"
                           for row, n in ragged[:MAX_LISTED_ROWS])
        more = len(ragged) - MAX_LISTED_ROWS
        raise CsvReadError(
            f"ragged rows: {len(ragged)} row(s) do not have the header's {len(header)} "
            f"fields: row {listed}{f' and {more} more' if more > 0 else ''}")
    return pd.DataFrame(body, columns=header, dtype=object)


# -- metric specs ---------------------------------------------------------------------


def installed_specs() -> dict[str, MetricSpec]:
    """The specs of the installed metrics (none when the registry cannot load)."""
    specs: dict[str, MetricSpec] = {}
    try:
        from codecbench.api.registry import get_registry

        registry = get_registry()
        names = registry.names("metrics")
    except Exception:  # noqa: BLE001 - validation works without plugins
        return specs
    for name in names:
        try:
            specs[name] = registry.get("metrics", name).spec()
        except Exception:  # noqa: BLE001 - one broken metric leaves the others
            continue
    return specs


def run_json_specs(path: Path) -> tuple[dict[str, MetricSpec], str]:
    """``(specs, problem)``: the metric specs a ``run.json`` records ("" when it reads;
    records written before metrics had specs are left to the installed metrics)."""
    from codecbench.harness.metric_specs import recorded_specs

    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(record, Mapping):
            raise TypeError(f"a JSON {type(record).__name__}, not an object")
        return recorded_specs([record]), ""
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        return {}, f"cannot read its metric specs: {type(exc).__name__}: {exc}"


def metric_specs(run_json: Path | None = None) -> tuple[dict[str, MetricSpec], str]:
    """``(specs, problem)``: the installed metrics' specs, overridden by ``run_json``'s."""
    specs = installed_specs()
    problem = ""
    if run_json is not None and Path(run_json).is_file():
        recorded, problem = run_json_specs(run_json)
        specs.update(recorded)
    return specs, problem


# -- column rules ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What the numbers of one column may be."""

    low: float = -math.inf
    high: float = math.inf
    positive: bool = False
    """``low`` excluded (width, height)."""
    integer: bool = False
    allows_infinity: bool = False
    source: str = ""
    """Where the range comes from, for messages (``psnr's valid range [0, inf]``)."""
    metric: str = ""
    """The metric whose spec the rule is."""
    known: bool = True


NON_NEGATIVE = Rule(low=0.0)
NON_NEGATIVE_INTEGER = Rule(low=0.0, integer=True)
POSITIVE_INTEGER = Rule(low=0.0, positive=True, integer=True)
ROWS_RULES = {"schema_version": Rule(integer=True), "width": POSITIVE_INTEGER,
              "height": POSITIVE_INTEGER, "bytes": NON_NEGATIVE_INTEGER, "bpp": NON_NEGATIVE,
              "encode_s": NON_NEGATIVE, "decode_s": NON_NEGATIVE}
LEADERBOARD_RULES = {"schema_version": Rule(integer=True), "bytes": NON_NEGATIVE,
                     "bpp": NON_NEGATIVE, "encode_s": NON_NEGATIVE, "decode_s": NON_NEGATIVE,
                     "n_images": NON_NEGATIVE_INTEGER, "n_errors": NON_NEGATIVE_INTEGER}


def _spec_rule(spec: MetricSpec) -> Rule:
    low, high = spec.valid_range
    return Rule(low=low, high=high, allows_infinity=spec.allows_infinity,
                source=f"{spec.name}'s valid range [{low:g}, {high:g}]", metric=spec.name)


def _count_columns(columns: Sequence[str]) -> dict[str, str]:
    """``{n_<metric>: metric}`` for the leaderboard's per-metric count columns."""
    counts = {}
    for column in columns:
        if column.startswith(METRIC_COUNT_PREFIX) and column not in LEADERBOARD_RULES:
            metric = column[len(METRIC_COUNT_PREFIX):]
            if metric in columns:
                counts[column] = metric
    return counts


def _rules(columns: Sequence[str], kind_rows: bool,
           specs: Mapping[str, MetricSpec]) -> dict[str, Rule]:
    fixed = ROWS_RULES if kind_rows else LEADERBOARD_RULES
    counts = {} if kind_rows else _count_columns(columns)
    rules = {}
    for column in columns:
        if column in TEXT_COLUMNS:
            continue
        if column in fixed:
            rules[column] = fixed[column]
        elif column in counts:
            rules[column] = NON_NEGATIVE_INTEGER
        elif column in specs:
            rules[column] = _spec_rule(specs[column])
        else:
            rules[column] = Rule(known=False)
    return rules


# -- checks ---------------------------------------------------------------------------


def _grouped(column: str | None, positions: Sequence[int] | np.ndarray, single: str,
             plural: Callable[[int], str]) -> Problem:
    """One problem for the 0-based ``positions``: a single row's, or a count of rows."""
    rows = tuple(int(p) + 1 for p in positions)
    if len(rows) == 1:
        return Problem(rows[0], column, single)
    return Problem(None, column, plural(len(rows)), rows=rows)


def _add(problems: list[Problem], column: str | None, mask: np.ndarray, texts: Sequence[str] | None,
         single: Callable[[str], str], plural: Callable[[int, str], str]) -> None:
    """Report the rows where ``mask`` holds (``texts``: the column's cells), if any."""
    positions = np.flatnonzero(mask)
    if len(positions):
        first = texts[positions[0]] if texts is not None else ""
        problems.append(_grouped(column, positions, single(first),
                                 lambda n: plural(n, first)))


def _parse_numbers(texts: list[str]):
    """``(empty, number, nan text, values)`` of a column's cells (``values``: ``nan``
    where no number)."""
    cells = np.asarray(texts, dtype=object)
    empty = cells == ""
    number = np.zeros(len(cells), dtype=bool)
    nan_text = np.zeros(len(cells), dtype=bool)
    values = np.full(len(cells), math.nan)
    filled = np.flatnonzero(~empty)
    if not len(filled):
        return empty, number, nan_text, values
    if _PLAIN.fullmatch("\x00".join(cells[filled])):
        # digits, signs, points and exponents only (the usual column): a cell that parses
        # is a number as written, one that does not ("1-2") is not
        parsed = pd.to_numeric(pd.Series(cells[filled]), errors="coerce").to_numpy(
            dtype=np.float64)
        number[filled] = ~np.isnan(parsed)
        values[filled] = parsed
        return empty, number, nan_text, values
    for position in filled:
        text = cells[position]
        if _NUMBER.fullmatch(text):
            number[position] = True
            values[position] = float(text)
        elif _NAN.fullmatch(text):
            nan_text[position] = True
    return empty, number, nan_text, values


def _check_numbers(frame: pd.DataFrame, column: str, rule: Rule,
                   problems: list[Problem]) -> np.ndarray:
    """The column's values (``nan`` where empty or invalid), reporting invalid cells."""
    texts = frame[column].tolist()
    empty, number, nan_text, values = _parse_numbers(texts)
    _add(problems, column, ~empty & ~number & ~nan_text, texts,
         lambda t: f"{_show(t)} is not a number",
         lambda n, t: f"{n} cells are not numbers (first {_show(t)})")
    _add(problems, column, nan_text, texts,
         lambda t: f"{_show(t)} is no value: an absent value is an empty cell",
         lambda n, t: f"{n} cells hold {_show(t)}, which is no value: an absent value is "
                      "an empty cell")
    # where infinity is allowed, the range decides (-inf is below PSNR's 0)
    infinite = np.zeros(len(texts), dtype=bool) if rule.allows_infinity else np.isinf(values)
    why = f" ({rule.metric} allows no infinity)" if rule.metric else ""

    def overflow(t):
        return "" if t.lower().lstrip("+-").startswith("inf") else " (beyond the float range)"

    _add(problems, column, infinite, texts,
         lambda t: f"{_show(t)} is not finite{overflow(t)}{why}",
         lambda n, t: f"{n} values are not finite (first {_show(t)}{overflow(t)}){why}")
    finite = np.isfinite(values)
    if rule.integer:
        _add(problems, column, finite & (values != np.round(values)), texts,
             lambda t: f"{_show(t)} is not a whole number",
             lambda n, t: f"{n} values are not whole numbers (first {_show(t)})")
    checked = ~np.isnan(values) & ~infinite
    source = f" ({rule.source})" if rule.source else ""
    if rule.positive:
        _add(problems, column, checked & (values <= rule.low), texts,
             lambda t: f"{_show(t)} is not positive",
             lambda n, t: f"{n} values are not positive (first {_show(t)})")
    elif rule.low > -math.inf:
        low = f"{rule.low:g}"
        _add(problems, column, checked & (values < rule.low), texts,
             lambda t: (f"negative value {t}" if rule.low == 0 else f"{t} is below {low}")
             + source,
             lambda n, t: f"{n} values below {low} (first {t}){source}")
    if rule.high < math.inf:
        high = f"{rule.high:g}"
        _add(problems, column, checked & (values > rule.high), texts,
             lambda t: f"{t} is above {high}{source}",
             lambda n, t: f"{n} values above {high} (first {t}){source}")
    return values


def _present(frame: pd.DataFrame, column: str) -> np.ndarray:
    return (frame[column] != "").to_numpy(dtype=bool)


def _rows_consistency(frame: pd.DataFrame, numbers: dict[str, np.ndarray],
                      metrics: Sequence[str], problems: list[Problem]) -> None:
    columns = frame.columns
    if "error" not in columns:
        return
    failed = _present(frame, "error")
    measured = [c for c in (*MEASUREMENT_COLUMNS, *metrics) if c in columns]
    holds = np.zeros(len(frame), dtype=bool)
    for column in measured:
        holds |= _present(frame, column)
    _add(problems, None, failed & holds, None,
         lambda _: "a row with an error holds a measurement (its numeric cells are empty)",
         lambda n, _: f"{n} rows with an error hold a measurement (their numeric cells are "
                      "empty)")
    needed = [c for c in ("width", "height", "bytes", "bpp") if c in columns]
    lacking = np.zeros(len(frame), dtype=bool)
    for column in needed:
        lacking |= ~_present(frame, column)
    _add(problems, None, ~failed & lacking, None,
         lambda _: f"a row without an error lacks one of {', '.join(needed)}",
         lambda n, _: f"{n} rows without an error lack one of {', '.join(needed)}")
    size: np.ndarray | str  # the byte counts, then the psnr check's image size text
    if all(c in numbers for c in ("bytes", "bpp", "width", "height")):
        size, bpp = numbers["bytes"], numbers["bpp"]
        pixels = numbers["width"] * numbers["height"]
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = 8.0 * size / pixels
        usable = np.isfinite(expected) & np.isfinite(bpp) & (pixels > 0)
        wrong = usable & (np.abs(bpp - expected) > RELATIVE_TOLERANCE * np.abs(expected) + 1e-12)
        first = int(np.flatnonzero(wrong)[0]) if wrong.any() else 0
        _add(problems, "bpp", wrong, frame["bpp"].tolist(),
             lambda t: f"{t} is not 8 × bytes / (width × height) = {expected[first]:.10g}",
             lambda n, t: f"{n} values are not 8 × bytes / (width × height) (first {t}, "
                          f"expected {expected[first]:.10g})")
    if all(c in numbers for c in ("psnr", "width", "height")):
        psnr = numbers["psnr"]
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = 10.0 * np.log10(PSNR_PEAK**2 * 3.0 * numbers["width"] * numbers["height"])
        above = np.isfinite(psnr) & np.isfinite(bound) & (psnr > bound + 1e-9)
        first = int(np.flatnonzero(above)[0]) if above.any() else 0
        size = (f"{numbers['width'][first]:g}×{numbers['height'][first]:g}"
                if above.any() else "")
        limit = (f"an 8-bit {size} RGB image has at most {bound[first]:.2f} dB (one sample "
                 "off by one); lossless rows are inf")
        _add(problems, "psnr", above, frame["psnr"].tolist(),
             lambda t: f"{t} dB on a lossy row: {limit}",
             lambda n, t: f"{n} values above the largest finite PSNR of their image (first "
                          f"{t} dB on a lossy row: {limit})")
    if "metric_errors" in columns:
        _check_metric_errors(frame, metrics, problems)


def _check_metric_errors(frame: pd.DataFrame, metrics: Sequence[str],
                         problems: list[Problem]) -> None:
    texts = frame["metric_errors"].tolist()
    malformed = np.zeros(len(frame), dtype=bool)
    contradicted = np.zeros(len(frame), dtype=bool)
    names = set(metrics)
    for position, text in enumerate(texts):
        if not text:
            continue
        try:
            errors = json.loads(text)
        except ValueError:
            errors = None
        if not isinstance(errors, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in errors.items()):
            malformed[position] = True
            continue
        if any(name in names and frame.at[position, name] != "" for name in errors):
            contradicted[position] = True
    _add(problems, "metric_errors", malformed, texts,
         lambda t: f"{_show(t)} is not a JSON object {{\"metric\": \"message\"}}",
         lambda n, t: f"{n} cells are not JSON objects {{\"metric\": \"message\"}} "
                      f"(first {_show(t)})")
    _add(problems, "metric_errors", contradicted, texts,
         lambda t: "names a metric whose cell holds a value (a failed metric's cell is "
                   "empty)",
         lambda n, t: f"{n} cells name a metric whose cell holds a value (a failed "
                      "metric's cell is empty)")


def _leaderboard_consistency(frame: pd.DataFrame, numbers: dict[str, np.ndarray],
                             metrics: Sequence[str], problems: list[Problem]) -> None:
    columns = frame.columns
    n_images = numbers.get("n_images")
    if n_images is not None and "n_errors" in numbers:
        n_errors = numbers["n_errors"]
        _add(problems, None, (n_images == 0) & (n_errors == 0), None,
             lambda _: "n_images and n_errors are 0 (a row groups at least one task)",
             lambda n, _: f"{n} rows with n_images and n_errors 0 (a row groups at least "
                          "one task)")
    for metric in metrics:
        count = metric_count_column(metric)
        if count not in numbers:
            continue
        counts = numbers[count]
        if n_images is not None:
            _add(problems, count, counts > n_images, frame[count].tolist(),
                 lambda t: f"{t} is above n_images (a mean is over some of the row's images)",
                 lambda n, t: f"{n} counts above n_images (first {t}; a mean is over some of "
                              "the row's images)")
        _add(problems, metric, (counts == 0) & _present(frame, metric), frame[metric].tolist(),
             # mypy cannot infer a lambda whose extra parameter has a default (binds count)
             lambda t, c=count: f"{t} with {c} 0 (a mean over no image)",  # type: ignore[misc]
             lambda n, t, c=count: f"{n} values with {c} 0 (a mean over no image; first {t})")  # type: ignore[misc]
    if n_images is None:
        return
    means = [c for c in (*MEASUREMENT_COLUMNS, *metrics) if c in columns]
    holds = np.zeros(len(frame), dtype=bool)
    for column in means:
        holds |= _present(frame, column)
    _add(problems, None, (n_images == 0) & holds, None,
         lambda _: "n_images is 0 but the row holds a mean (no image was measured)",
         lambda n, _: f"{n} rows with n_images 0 hold a mean (no image was measured)")
    needed = [c for c in ("bytes", "bpp") if c in columns]
    lacking = np.zeros(len(frame), dtype=bool)
    for column in needed:
        lacking |= ~_present(frame, column)
    _add(problems, None, (n_images > 0) & lacking, None,
         lambda _: f"n_images is above 0 but {' or '.join(needed)} is empty",
         lambda n, _: f"{n} rows with n_images above 0 lack {' or '.join(needed)}")


def validate_frame(frame: pd.DataFrame,
                   specs: Mapping[str, MetricSpec] | None = None) -> list[Problem]:
    """Every problem of a leaderboard or rows CSV read with :func:`read_csv_text`
    (``specs``: metric specs by name; the installed metrics' by default)."""
    frame = frame.reset_index(drop=True)
    frame = frame.astype(object).where(frame.notna(), "").astype(str)
    frame.columns = [str(c) for c in frame.columns]
    return _validate_text(frame, installed_specs() if specs is None else specs)


def _validate_text(frame: pd.DataFrame, specs: Mapping[str, MetricSpec]) -> list[Problem]:
    """:func:`validate_frame` of a frame whose cells are all text, indexed 0, 1, …"""
    problems: list[Problem] = []
    columns = list(frame.columns)
    kind_rows = "image_id" in columns
    rules = _rules(columns, kind_rows, specs)
    fixed = ROWS_RULES if kind_rows else LEADERBOARD_RULES
    counts = {} if kind_rows else _count_columns(columns)
    metrics = [c for c in rules if c not in fixed and c not in counts]
    required = list(ROWS_REQUIRED if kind_rows else LEADERBOARD_REQUIRED)
    if not kind_rows:
        required += [metric_count_column(m) for m in metrics if rules[m].known]
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(Problem(None, None, f"missing column(s) {', '.join(missing)} "
                                f"(a codecbench {'rows' if kind_rows else 'leaderboard'} CSV "
                                f"of schema {CSV_SCHEMA_VERSION} has them)"))
    if "schema_version" in columns:
        versions = sorted(set(frame["schema_version"]) - {str(CSV_SCHEMA_VERSION)})
        if versions:
            problems.append(Problem(None, "schema_version", f"schema {', '.join(versions)}; "
                                    f"this codecbench reads {CSV_SCHEMA_VERSION}"))
    numbers = {column: _check_numbers(frame, column, rule, problems)
               for column, rule in rules.items()}
    for column, rule in rules.items():
        if not rule.known:
            problems.append(Problem(None, column, "unknown metric column, range not checked "
                                    "(finite values only)", note=True))
    if kind_rows:
        _rows_consistency(frame, numbers, metrics, problems)
    else:
        _leaderboard_consistency(frame, numbers, metrics, problems)
    key = [c for c in (KEY_COLUMNS if kind_rows else LEADERBOARD_KEY) if c in columns]
    if key:
        duplicated = frame.duplicated(subset=key, keep="first").to_numpy(dtype=bool)
        same = ", ".join(key)
        _add(problems, None, duplicated, None,
             lambda _: f"duplicate of an earlier row (same {same})",
             lambda n, _: f"{n} rows, each a duplicate of an earlier row (same {same})")
    for column in columns:
        if is_formula(column):
            problems.append(Problem(None, column, "column name would run as a formula in a "
                                    "spreadsheet (not neutralised)"))
    for column in columns:
        if column not in TEXT_COLUMNS:
            continue
        texts = frame[column].tolist()
        risky_texts = {t for t in set(texts) if is_formula(t)}  # few distinct texts
        risky = np.array([t in risky_texts for t in texts], dtype=bool) if risky_texts \
            else np.zeros(len(texts), dtype=bool)
        _add(problems, column, risky, texts,
             lambda t: f"{_show(t)} would run as a formula in a spreadsheet (not neutralised)",
             lambda n, t: f"{n} cells would run as a formula in a spreadsheet (not "
                          f"neutralised; first {_show(t)})")
    return problems


def validate_file(path: Path, specs: Mapping[str, MetricSpec] | None = None) -> list[Problem]:
    """:func:`validate_frame` of a CSV file (an unreadable file is one problem)."""
    try:
        frame = read_csv_text(path)
    except CsvReadError as exc:
        return [Problem(None, None, str(exc))]
    return _validate_text(frame, installed_specs() if specs is None else specs)


def failures(problems: Sequence[Problem]) -> list[Problem]:
    """The problems that are not notes."""
    return [p for p in problems if not p.note]


def validate_path(path: Path) -> list[tuple[Path, list[Problem]]]:
    """``[(file, problems)]`` of a CSV file or of a run folder (its ``rows.csv`` and
    ``leaderboard.csv``, with the metric specs of its ``run.json``)."""
    from codecbench.harness.runner import LEADERBOARD_CSV, ROWS_CSV, RUN_JSON

    path = Path(path)
    if not path.is_dir():
        specs, problem = metric_specs(path.parent / RUN_JSON)
        notes = [Problem(None, None, f"{path.parent / RUN_JSON} beside it: {problem}; "
                         "metric ranges from the installed metrics", note=True)] if problem else []
        return [(path, notes + validate_file(path, specs))]
    run_json = path / RUN_JSON
    specs, problem = metric_specs(run_json)
    results: list[tuple[Path, list[Problem]]] = []
    if problem:
        results.append((run_json, [Problem(None, None, problem)]))
    elif not run_json.is_file():
        results.append((run_json, [Problem(None, None, "missing: metric ranges from the "
                                           "installed metrics", note=True)]))
    for name in (ROWS_CSV, LEADERBOARD_CSV):
        csv_path = path / name
        if csv_path.is_file():
            results.append((csv_path, validate_file(csv_path, specs)))
        else:
            results.append((csv_path, [Problem(None, None, "missing (a finished run writes "
                                               f"{ROWS_CSV} and {LEADERBOARD_CSV})")]))
    return results
