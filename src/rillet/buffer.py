"""The single records appended since a stream's last batch, in offset order.

Each record is kept as it passed :meth:`Schema.classify` (or as :meth:`Schema.prepare` made
it): stored values, except that its time may be a datetime, ISO-8601 text (already checked),
None, or left out (a tuple one value short).  Those times become Arrow values once, in bulk,
when the buffer becomes a batch.  Records without a time share one ingest time: the moment
the first of them arrived (a buffer lasts at most a commit interval, 5 ms by default, or
``buffer_rows`` records).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from rillet.batches import TimeForm, rows_to_batch
from rillet.schema import LEFT_OUT, UNTIMED, Schema


@dataclass(slots=True)
class Buffer:
    """Rows with offsets ``first``, ``first + 1``, ... of a stream of ``schema``."""

    schema: Schema
    first: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    #: how many rows have no time, or leave it out (Schema.classify's numbers); the other
    #: forms are not counted (the appender's fast path): the first time present says which
    #: conversion to try, and a conversion that meets another form fails to value by value
    forms: list[int] = field(default_factory=lambda: [0] * 6)
    #: the ingest time (epoch ns) of the rows without a time; None until one arrives
    stamp: int | None = None
    #: epoch ns now: the database's clock, so a test's fake clock stamps records too
    now_ns: Callable[[], int] = time.time_ns

    def count(self, form: int) -> None:
        """Note the form of the time of the row just added to ``rows``."""
        if form >= UNTIMED:
            self.forms[form] += 1
            if self.stamp is None:
                self.stamp = self.now_ns()

    def values(self, offset: int) -> tuple[Any, ...] | None:
        """The values of the record at ``offset``, its time stamped if it has none; None if
        the buffer does not hold it."""
        i = offset - self.first
        if not 0 <= i < len(self.rows):
            return None
        row = self.rows[i]
        ti = self.schema.time_index
        if len(row) < len(self.schema.columns):
            return row[:ti] + (self.stamp,) + row[ti:]
        if row[ti] is None:
            return row[:ti] + (self.stamp,) + row[ti + 1 :]
        return row

    def batch(self) -> pa.RecordBatch:
        """The rows as one batch with offsets, their times converted in bulk."""
        rows = self.rows
        short = self.forms[LEFT_OUT]
        if short and short < len(rows):  # some left their time out: put a NULL in its place
            ti, width = self.schema.time_index, len(self.schema.columns)
            rows = [r if len(r) == width else r[:ti] + (None,) + r[ti:] for r in rows]
        return rows_to_batch(self.schema, rows, self.first, self._time_form(), self.stamp)

    def _time_form(self) -> TimeForm:
        """How the time column converts: as the first time present (a missing time goes
        with any form; rows_to_batch converts value by value when another form is among
        them), or "left out" when every row leaves it out."""
        untimed = self.forms[UNTIMED] + self.forms[LEFT_OUT]
        if untimed == len(self.rows) and self.forms[LEFT_OUT] == untimed:
            return "left out"
        ti, width = self.schema.time_index, len(self.schema.columns)
        for row in self.rows:  # the first row, but for a missing time
            if len(row) == width and row[ti] is not None:
                kind = type(row[ti])
                if kind is int:
                    return "epoch"
                if kind is str:
                    return "text"
                return "datetime" if isinstance(row[ti], datetime) else "mixed"
        return "epoch"  # times missing only (and some left out): stamped
