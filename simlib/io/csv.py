"""CSV tables read with their line numbers, so that every bad cell can be named.

:func:`read_csv` streams a UTF-8 file with a header line into compact text columns (a numpy
string array per column, no Python object per cell) and remembers the CSV line of every data
row. :class:`CsvTable` wraps such a file or a DataFrame and builds the messages:
:class:`simlib.errors.DataError` naming the file, the CSV line (and 1-based data row) and the
column. :func:`parse_numbers`, :func:`parse_whole` and :func:`labels` turn columns into numbers,
whole counts and group names, refusing the first bad cell; :func:`group_rows` splits the rows by
label. Used by the calibration readers and by the customer-book import.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import DataError

__all__ = [
    "MAX_LINE_CHARS",
    "TEXT",
    "CsvTable",
    "as_table",
    "group_rows",
    "labels",
    "parse_number",
    "parse_numbers",
    "parse_whole",
    "read_csv",
    "read_header",
]

#: Text cells are kept in numpy's variable-width string type: a short cell costs 16 bytes (no
#: Python object per cell), so a million-row file loads in memory of the order of its size.
TEXT = np.dtypes.StringDType()
#: Rows gathered as Python lists before they are packed into the compact columns.
_CHUNK_ROWS = 65_536
#: Longest line read (characters): a row of a book or a retention table is under 200, and a
#: file with no line end (``/dev/zero``, a binary file) is refused here instead of being read
#: into memory whole.
MAX_LINE_CHARS = 1_048_576


@dataclass
class CsvTable:
    """A table read from a CSV file (cells as text) or taken from a DataFrame.

    ``columns[name]`` holds a column's cells: stripped text in a compact numpy string array for
    a CSV file, the DataFrame's values (an object array) otherwise. ``lines[i]`` is the CSV line
    number of data row ``i`` (0-based here; messages say "line L (data row i + 1)"); None for
    in-memory tables (messages say "data row i + 1").
    """

    source: str
    header: list[str]
    columns: dict[str, NDArray[Any]]
    lines: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.columns[self.header[0]]) if self.header else 0

    def where(self, i: int) -> str:
        if self.lines is not None:
            return f"line {int(self.lines[i])} (data row {i + 1})"
        return f"data row {i + 1}"

    def error(self, message: str, row: int | None = None, column: str | None = None) -> DataError:
        parts = [self.source]
        if row is not None:
            parts.append(self.where(int(row)))
        if column is not None:
            parts.append(f"column {column!r}")
        return DataError(": ".join(parts) + ": " + message)

    def require(self, columns: Iterable[str], expected: str) -> None:
        missing = [c for c in columns if c not in self.header]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            found = ", ".join(repr(h) for h in self.header)
            raise self.error(
                f"missing column(s) {names}; found {found}; expected {expected}",
            )

    def values(self, column: str) -> NDArray[Any]:
        """The cells of ``column`` (a numpy array; text stripped for a CSV file)."""
        return self.columns[column]

    def cell(self, i: int, column: str) -> Any:
        """One cell (as text for a CSV file)."""
        value = self.columns[column][i]
        return str(value) if self.lines is not None else value

    def text(self, column: str) -> NDArray[Any]:
        """``column`` as stripped text (blank for an empty or missing value)."""
        values = self.columns[column]
        if values.dtype == TEXT:
            return values
        return np.array(
            ["" if _missing(v) else str(v).strip() for v in values], dtype=TEXT
        ).reshape(len(values))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<table>") -> CsvTable:
        """A DataFrame as a table (row numbers in messages are 1-based data rows)."""
        header = [str(c) for c in frame.columns]
        columns = {h: frame.iloc[:, j].to_numpy(dtype=object) for j, h in enumerate(header)}
        return cls(source, header, columns, None)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --------------------------------------------------------------------------------------------
# Reading a file


def _check_header(source: str, line: int, header: list[str]) -> None:
    for j, name in enumerate(header):
        if not name:
            raise DataError(f"{source}: line {line}: column {j + 1} of the header has no name")
        if name in header[:j]:
            raise DataError(f"{source}: line {line}: column {name!r} appears twice in the header")


@dataclass
class _Rows:
    """Data rows gathered in chunks of Python lists, each packed into compact text columns."""

    chunks: list[list[NDArray[Any]]] = field(default_factory=list)
    lines: list[NDArray[np.int64]] = field(default_factory=list)
    pending: list[list[str]] = field(default_factory=list)
    pending_lines: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, row: list[str], line: int) -> None:
        self.pending.append(row)
        self.pending_lines.append(line)
        self.count += 1
        if len(self.pending) >= _CHUNK_ROWS:
            self.pack()

    def pack(self) -> None:
        if self.pending:
            self.chunks.append(
                [
                    np.strings.strip(np.array(col, dtype=TEXT))
                    for col in zip(*self.pending, strict=True)
                ]
            )
            self.lines.append(np.array(self.pending_lines, dtype=np.int64))
            self.pending.clear()
            self.pending_lines.clear()

    def columns(self, header: list[str]) -> dict[str, NDArray[Any]]:
        """One column at a time, freeing its chunks as it goes."""
        out: dict[str, NDArray[Any]] = {}
        for j, name in enumerate(header):
            out[name] = np.concatenate([chunk[j] for chunk in self.chunks])
            for chunk in self.chunks:
                chunk[j] = out[name][:0]
        return out


def _read_rows(fh: Any, source: str, reader: Any) -> tuple[list[str] | None, _Rows]:
    header: list[str] | None = None
    rows = _Rows()
    with fh:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                _check_header(source, reader.line_num, header)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{source}: line {reader.line_num} (data row {rows.count + 1}): has "
                    f"{len(row)} cell(s), the header has {len(header)}"
                )
            rows.add(row, reader.line_num)
        rows.pack()
    return header, rows


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device, such as /dev/zero"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def _open(path: str | Path, source: str) -> Any:
    """``path`` opened as UTF-8 text, or :class:`DataError` if it is missing, unreadable or not
    a regular file (checked before opening: opening a named pipe would wait for a writer)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise DataError(f"{source}: not a regular file ({kind}); a CSV file is needed")
    try:
        return open(path, encoding="utf-8-sig", newline="")  # the caller closes it
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None


def _lines(fh: Any, source: str) -> Iterator[str]:
    """The lines of ``fh``, refusing one longer than :data:`MAX_LINE_CHARS` characters before
    it is read whole."""
    number = 0
    while line := fh.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise DataError(
                f"{source}: line {number}: longer than {MAX_LINE_CHARS:,} characters; "
                "a CSV file with one row a line is needed"
            )
        yield line


def read_header(path: str | Path, expected: str = "") -> list[str]:
    """The header line of a CSV file (its first non-blank line), checked as :func:`read_csv`
    checks it, and that a data row follows; reads only the first lines. :class:`DataError` as
    :func:`read_csv` raises it."""
    source = str(path)
    hint = f"; expected {expected}" if expected else ""
    fh = _open(path, source)
    reader = csv.reader(_lines(fh, source))
    header: list[str] | None = None
    try:
        with fh:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if header is not None:
                    return header
                header = [cell.strip() for cell in row]
                _check_header(source, reader.line_num, header)
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not a UTF-8 text file (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None
    if header is None:
        raise DataError(f"{source}: the file is empty; it needs a header line{hint}")
    raise DataError(f"{source}: no data rows, only a header{hint}")


def read_csv(path: str | Path, expected: str = "") -> CsvTable:
    """Read a UTF-8 CSV file with a header line; blank lines are skipped; cells are stripped.

    The file is read as a stream and packed column by column into compact arrays, so memory
    stays of the order of the file's size (a million rows load in well under a few hundred MB).
    Raises :class:`DataError` for a missing, unreadable or empty file, one that is not a
    regular file (a folder, a device such as ``/dev/zero``, a named pipe), a line longer than
    :data:`MAX_LINE_CHARS`, a malformed line, a blank or repeated column name, a row with the
    wrong number of cells, or no data rows.
    """
    source = str(path)
    hint = f"; expected {expected}" if expected else ""
    fh = _open(path, source)  # closed by _read_rows
    reader = csv.reader(_lines(fh, source))
    try:
        header, rows = _read_rows(fh, source, reader)
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not a UTF-8 text file (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None
    if header is None:
        raise DataError(f"{source}: the file is empty; it needs a header line{hint}")
    if not rows.count:
        raise DataError(f"{source}: no data rows, only a header{hint}")
    return CsvTable(source, header, rows.columns(header), np.concatenate(rows.lines))


def as_table(data: str | Path | pd.DataFrame | CsvTable, expected: str) -> CsvTable:
    """``data`` as a table: a :class:`CsvTable` as it is, a DataFrame wrapped, a path read."""
    if isinstance(data, CsvTable):
        return data
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise DataError(f"<table>: no data rows{'; expected ' + expected if expected else ''}")
        return CsvTable.from_frame(data)
    return read_csv(data, expected)


# --------------------------------------------------------------------------------------------
# Cells as numbers and labels


def parse_number(table: CsvTable, i: int, column: str, value: Any) -> float:
    """One cell as a finite number, or :class:`DataError` naming the row and column."""
    if isinstance(value, (bool, np.bool_)):
        raise table.error(f"not a number: {value!r}", i, column)
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
        if math.isnan(x):
            raise table.error("empty cell; a number is needed", i, column)
    else:
        text = "" if value is None else str(value).strip()
        if not text:
            raise table.error("empty cell; a number is needed", i, column)
        try:
            if "_" in text:  # Python's float() reads 1_000 as 1000; a CSV number has no "_"
                raise ValueError(text)
            x = float(text)
        except ValueError:
            raise table.error(f"not a number: {text!r}", i, column) from None
    if not math.isfinite(x):
        raise table.error(f"must be a finite number, got {value!r}", i, column)
    return x


def _parse_text(
    table: CsvTable, column: str, values: NDArray[Any], want: NDArray[np.bool_]
) -> NDArray[np.float64]:
    out = np.full(len(values), np.nan)
    try:
        with np.errstate(all="ignore"):
            parsed = values[want].astype(np.float64)
        if np.isfinite(parsed).all() and not (np.strings.find(values[want], "_") >= 0).any():
            out[want] = parsed
            return out
    except (ValueError, OverflowError):
        pass
    # locate the first bad cell (and accept what Python's float() accepts, but for "_")
    for i in np.flatnonzero(want):
        out[i] = parse_number(table, int(i), column, str(values[i]))
    return out


def parse_numbers(
    table: CsvTable, column: str, blank: bool = False, rows: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """A column as finite numbers (NaN for blank cells when ``blank``), or :class:`DataError`
    naming the first bad row. ``rows``: check only these rows (the others give NaN)."""
    values = table.values(column)
    n = len(values)
    use = np.ones(n, dtype=bool) if rows is None else rows
    if values.dtype == TEXT:
        empty = values == ""
        return _parse_text(table, column, values, use & ~empty if blank else use)
    out = np.full(n, np.nan)
    for i in np.flatnonzero(use):
        v = values[i]
        if blank and (_missing(v) or (isinstance(v, str) and not v.strip())):
            continue
        out[i] = parse_number(table, int(i), column, v)
    return out


def parse_whole(table: CsvTable, column: str, what: str) -> NDArray[np.int64]:
    """A column as whole numbers >= 0 (``what`` says what they count, for the messages)."""
    x = parse_numbers(table, column)
    bad = np.flatnonzero((x < 0) | (x != np.floor(x)) | (x > 1e12))
    if bad.size:
        i = int(bad[0])
        v = x[i]
        if v < 0:
            raise table.error(f"must be >= 0 ({what}), got {table.cell(i, column)!r}", i, column)
        if v != math.floor(v):
            raise table.error(f"must be a whole number ({what}), got {v:g}", i, column)
        raise table.error(f"is too large ({what}), got {v:g}", i, column)
    return x.astype(np.int64)


def labels(table: CsvTable, column: str) -> NDArray[Any]:
    """A column of group names as text; an empty cell is refused."""
    out = table.text(column)
    empty = np.flatnonzero(out == "")
    if empty.size:
        raise table.error("empty cell; a group name is needed", int(empty[0]), column)
    return out


def group_rows(names: NDArray[Any]) -> list[tuple[str, NDArray[np.intp]]]:
    """Each distinct label (in order of first appearance) with its rows (in row order)."""
    uniq, first, inverse = np.unique(names, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    groups = [(str(uniq[k]), order[bounds[k] : bounds[k + 1]]) for k in range(len(uniq))]
    return [groups[k] for k in np.argsort(first, kind="stable")]
