"""Reads: one record by offset (buffer, recent buffers, memory, files), scans by event time
and takes by offsets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import chain
from typing import overload

import numpy as np
import pyarrow as pa

from rillet.arguments import OFFSETS, TIME, check, check_arguments
from rillet.errors import NotFoundError
from rillet.record import Record
from rillet.schema import OFFSET
from rillet.storage.partitions import (
    by_start,
    find_values,
    overlapping,
    take_offsets,
)
from rillet.streaming.subscribers import Subscribers
from rillet.time import bound_us

TimeBound = dt.datetime | str | int | None


class Reads(Subscribers):
    """Reading stored and buffered records."""

    @overload
    def read(self, offset: int) -> Record: ...

    @overload
    def read(self, offset: int, count: int) -> list[Record]: ...

    def read(self, offset: int, count: int | None = None) -> Record | list[Record]:
        """The record at ``offset``; with ``count``, a list of the records at offsets
        ``offset .. offset + count - 1`` that exist (fewer at the end of the stream)."""
        check_arguments("read", locals())
        if count is None:
            record = self._read_one(offset)
            if record is None:
                raise NotFoundError(
                    f"stream {self.name!r} has no record at offset {offset} (offsets 0 to "
                    f"{self._next - 1} were appended; retention may have dropped older ones)",
                    kind="record",
                    name=str(offset),
                    suggestion=None,
                )
            return record
        return [r for o in range(offset, offset + count) if (r := self._read_one(o)) is not None]

    def _read_one(self, offset: int) -> Record | None:
        index = self.schema.index
        values = None
        with self._lock:
            if offset >= self._buffer.first:
                values = self._buffer.values(offset)
                if values is None:
                    return None
            else:
                for buffer in self._recent:
                    if buffer.first <= offset < buffer.first + len(buffer.rows):
                        values = buffer.values(offset)
                        break
                files, memory = self._files, self._memory.partitions
        if values is not None:
            return Record(index, self.schema.read_values(values), offset)
        if offset < 0:
            return None
        # partitions() in reverse without building its list: a read of a recent record
        # takes a few microseconds, and a long-kept stream has hundreds of files
        values = find_values(chain(reversed(memory.values()), reversed(files)), offset)
        return None if values is None else Record(index, values, offset)

    def scan(self, start: TimeBound = None, end: TimeBound = None) -> Iterator[Record]:
        """The records with event time in ``[start, end)``, in event-time order (then offset).

        ``start``/``end``: datetime, ISO-8601 text or epoch nanoseconds; None is unbounded.
        """
        check_arguments("scan", locals())
        return self._scan(start, end)  # a generator: checked above, when called

    def _scan(self, start: TimeBound, end: TimeBound) -> Iterator[Record]:
        for table in self._scan_tables(start, end):
            yield from self._records(table)

    def scan_tables(self, start: TimeBound = None, end: TimeBound = None) -> Iterator[pa.Table]:
        """What :meth:`scan` reads, as tables of the storage columns (with ``_offset``), one
        a partition start, in event-time order (then offset)."""
        check("scan_tables", start=(start, TIME | None), end=(end, TIME | None))
        return self._scan_tables(start, end)  # a generator: checked above, when called

    def _scan_tables(self, start: TimeBound, end: TimeBound) -> Iterator[pa.Table]:
        low = bound_us(start)
        high = bound_us(end)
        self._flush(sync=False)
        tcol = self.schema.time_column
        for _, group in by_start(overlapping(self.partitions(), low, high)):
            batches = [batch for partition in group for batch in partition.scan(low, high)]
            if not batches:
                continue
            table = pa.Table.from_batches(batches)
            yield table.sort_by([(tcol, "ascending"), (OFFSET, "ascending")])

    def _records(self, table: pa.Table) -> Iterator[Record]:
        """Records from a table of this stream's storage columns (with ``_offset``)."""
        index = self.schema.index
        for batch in table.to_batches(max_chunksize=4096):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            offsets = columns.pop()
            for values, offset in zip(zip(*columns, strict=True), offsets, strict=True):
                yield Record(index, values, int(offset))

    def take(self, offsets: np.ndarray) -> pa.Table:
        """The stored records at ``offsets`` (sorted, unique) as a table, in offset order.

        Reads only the memory batches and Parquet row groups whose offset range holds one.
        """
        check("take", offsets=(offsets, OFFSETS))
        self._flush(sync=False)
        wanted = np.asarray(offsets, dtype=np.int64)
        return take_offsets(self.partitions(), wanted, self.schema.storage)

    def __len__(self) -> int:
        """The number of records stored now (appended and not dropped by retention)."""
        with self._ingest_lock:  # no batch is between the buffer and memory
            with self._lock:
                buffered = len(self._buffer.rows)
            return buffered + sum(p.rows for p in self.partitions())
