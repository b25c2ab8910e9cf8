"""Ingest: single records into the buffer, tables straight in, and every batch to the log,
memory and the subscribers in offset order; the group commit of relaxed streams.

Data flow of an append (design.md): rows are checked, given offsets and buffered; the buffer
becomes an Arrow batch that goes to the write-ahead log and then to its memory partition.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pyarrow as pa

from rillet.batches import to_table, with_offsets
from rillet.buffer import Buffer
from rillet.errors import ConfigError, StorageError
from rillet.schema import TEXT, UNTIMED
from rillet.storage.log import refused
from rillet.streaming.state import StreamState

logger = logging.getLogger("rillet")
from_iso = dt.datetime.fromisoformat


class Ingest(StreamState):
    """Appends and the group commit."""

    def append(self, row: Any) -> int:
        """Append one record (a tuple in schema order, or a mapping); return its offset.

        A tuple may leave out the time column; the record is then stamped with the ingest time.
        The record is readable with :meth:`read` as soon as this returns.
        """
        record = row
        if type(row) is tuple:
            form = self._classify(row)
        elif type(row) is dict:  # the usual mappings, with their time or without: inline
            size = len(row)
            try:
                if size == self._width:
                    row = self._from_dict(row)
                    form = self._classify(row)
                elif size == self._width - 1:
                    row = self._from_dict_untimed(row)
                    form = self._classify(row)
                else:
                    form = 0
            except KeyError:  # another column left out, or an unknown one: prepare says
                form = 0
        else:
            form = 0
        if form == TEXT:  # checked here, converted in bulk with the buffer
            try:
                from_iso(row[self._time_index])
            except ValueError:
                form = 0  # prepare says what is wrong with it, or reads it another way
        if not form:  # a promotion, a column left out, a list, an error ...
            row, form = self._prepare(record, self.name, 0)
        lock = self._lock
        lock.acquire()  # not ``with``: its two method calls cost a quarter of an append
        try:
            if self._closed:
                raise ConfigError(f"stream {self.name!r} is closed")
            if self._failure is not None:
                raise refused(self._failure)
            offset = self._next
            self._next = offset + 1
            buffer = self._buffer
            rows = buffer.rows
            rows.append(row)
            if form >= UNTIMED:  # stamped in bulk with the buffer (Buffer.count, inline)
                buffer.forms[form] += 1
                if buffer.stamp is None:
                    buffer.stamp = buffer.now_ns()
            full = len(rows) >= self._buffer_rows
        finally:
            lock.release()
        if full or self._durable:
            self._flush(sync=self._durable)
        return offset

    def append_many(self, data: Any) -> int:
        """Append many records at once, all or nothing; return the offset of the first.

        ``data``: a list of tuples or mappings, a dict of columns, a pyarrow Table or
        RecordBatch, or a pandas or polars DataFrame.
        """
        table = to_table(data, self.schema, self.name, self._now_ns())
        count = table.num_rows
        with self._ingest_lock:
            with self._lock:
                if self._closed:
                    raise ConfigError(f"stream {self.name!r} is closed")
                if self._failure is not None:
                    raise refused(self._failure)
                if count == 0:
                    return self._next
                buffered = self._take_buffer()
                first = self._next
                self._next = first + count
                self._buffer.first = self._next
            if buffered is not None:
                self._ingest(buffered.batch())
            position = self._ingest(with_offsets(table, self.schema, first))
        if self._durable and self._log is not None:
            self._log.sync_to(position)
        return first

    def _take_buffer(self) -> Buffer | None:
        """Move the buffer aside, if it holds rows (caller holds both locks); it stays
        readable via _recent."""
        buffer = self._buffer
        if not buffer.rows:
            return None
        self._buffer = Buffer(self.schema, self._next, now_ns=self._now_ns)
        self._recent.append(buffer)
        return buffer

    def _flush(self, sync: bool) -> None:
        if self._failure is not None:  # the buffer cannot be stored: readers see the rest
            if sync:
                raise refused(self._failure)
            return
        position = 0
        with self._ingest_lock:
            if self._closed:  # destroyed: nothing more goes into the (removed) folder
                return
            with self._lock:
                buffer = self._take_buffer()
            if buffer is not None:
                position = self._ingest(buffer.batch())
        if sync and self._log is not None:
            self._log.sync_to(position) if position else self._log.sync()

    def _ingest(self, batch: pa.RecordBatch) -> int:
        """Log, memory, subscribers; the caller holds ``_ingest_lock`` so batches go in
        offset order."""
        position = self._log.append(batch) if self._log is not None else 0
        self._watermark = max(self._watermark, self._memory.add(batch))
        self._last_ingest = self._clock()
        for subscription in self._subscriptions:
            subscription.hand(batch)
        return position

    def flush(self) -> None:
        """Make every record appended so far durable (logged and fsynced), and wait until
        the subscribers (the monitors) have seen it."""
        self._flush(sync=True)
        self.wait_subscribers()

    def caught_up(self) -> None:
        """Ingest the buffered records, then wait until the subscribers have seen them."""
        self._flush(sync=False)
        self.wait_subscribers()

    def _ingest_buffer(self) -> None:
        """Move buffered single records into memory (and the log, and past the monitors)."""
        self._flush(sync=False)

    def _commit(self) -> None:
        """Group commit: log the buffer and fsync (relaxed); called every commit_interval.

        A log that fails (disk full, I/O error) is logged once, when it fails; from then on
        appends and flush raise the StorageError, and commits do nothing.
        """
        if self._failure is not None:
            return
        try:
            if self._buffer.rows:
                self._flush(sync=False)
            if self._log is not None and self._log.dirty:
                self._log.sync()
        except StorageError:
            if self._failure is None:
                raise

    def _log_failed(self, failure: StorageError) -> None:
        """Told by the log once, when it fails: no more appends, and no more sealing, since
        memory may hold records the log lost (a durable log cuts off what it did not sync)."""
        self._failure = failure
        logger.error("%s", failure.message)
