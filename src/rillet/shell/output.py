"""What the shell prints: watched flows' rows aligned in columns, tables, errors.

One :class:`Console` is shared by the prompt and the threads that print watched flows, so a
line is never cut in two by another.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

import pyarrow as pa

from rillet.errors import RilletError


class Console:
    """Writes whole lines to ``out`` and ``err`` under one lock."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._lock = threading.Lock()

    def print(self, text: str = "") -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def error(self, text: str) -> None:
        with self._lock:
            self.out.flush()
            self.err.write(text + "\n")
            self.err.flush()


def cell(value: Any) -> str:
    """A value as the shell shows it: NULL for nothing, ISO times in UTC.

    Examples:
        >>> cell(None), cell(1.5), cell(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
        ('NULL', '1.5', '2026-01-02 03:04:05+00:00')
    """
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class Rows:
    """Aligns the rows of one flow as they come: the ``timestamp`` column first, each column
    as wide as the widest value seen so far, numbers to the right.

    Examples:
        >>> rows = Rows()
        >>> times = pa.array([0, 1_000_000], pa.timestamp("us", tz="UTC"))
        >>> batch = pa.record_batch({"n": [1, 200], "timestamp": times})
        >>> for line in rows.lines(batch): print(line)
        timestamp                    n
        1970-01-01 00:00:00+00:00    1
        1970-01-01 00:00:01+00:00  200
    """

    def __init__(self) -> None:
        self._widths: list[int] = []
        self._header = False

    def lines(self, batch: pa.RecordBatch) -> list[str]:
        names = list(batch.schema.names)
        if "timestamp" in names:
            names.remove("timestamp")
            names.insert(0, "timestamp")
        columns = [[cell(v) for v in batch.column(name).to_pylist()] for name in names]
        numeric = [
            pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            for t in (batch.schema.field(name).type for name in names)
        ]
        if len(self._widths) != len(names):
            self._widths = [len(name) for name in names]
        for i, values in enumerate(columns):
            self._widths[i] = max(self._widths[i], *(len(v) for v in values), 0)
        out: list[str] = []
        if not self._header:
            self._header = True
            out.append(self._join(names, numeric))
        for row in zip(*columns, strict=True):
            out.append(self._join(list(row), numeric))
        return out

    def _join(self, values: Sequence[str], right: Sequence[bool]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w)
            for v, w, r in zip(values, self._widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain aligned table with a rule under its header.

    Examples:
        >>> for line in table(["a", "bb"], [["x", "y"]]): print(line)
        a  bb
        -  --
        x  y
    """
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return lines


def describe_error(exc: BaseException, statement: str | None = None) -> list[str]:
    """An error as the shell prints it: its class and message and, for an error at a line and
    column of the statement, that line with a caret under the column."""
    name = type(exc).__name__
    lines = [f"error: {name}: {exc}"]
    line = getattr(exc, "line", None)
    col = getattr(exc, "col", None)
    if statement and isinstance(exc, RilletError) and isinstance(line, int) and line >= 1:
        text = statement.splitlines()
        if line <= len(text) and isinstance(col, int) and col >= 1:
            lines.append("  " + text[line - 1])
            lines.append("  " + " " * (col - 1) + "^")
    return lines
