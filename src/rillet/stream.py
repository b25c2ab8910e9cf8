"""Stream: a named, typed, append-only sequence of records with dense offsets.

Data flow of an append (design.md): rows are checked, given offsets and buffered; the buffer
becomes an Arrow batch that goes to the write-ahead log and then to its memory partition.
In the background, closed partitions are sealed into Parquet files and retention drops whole
partitions.  Lock order: ``_seal_lock`` -> ``_ingest_lock`` -> ``_lock``; docs/threads.md
lists every thread, what runs under which lock, and who waits for whom.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyarrow as pa

from rillet.arguments import FLAG, INT, OFFSETS, SUBSCRIBER, TEXT_OPTION, TIME, Kind, check
from rillet.batches import to_table, with_offsets
from rillet.buffer import Buffer
from rillet.errors import ConfigError, NotFoundError, StorageError
from rillet.record import Record
from rillet.schema import EPOCH, OFFSET, TEXT, UNTIMED, Schema
from rillet.settings import LOG_COMPRESSIONS, Settings
from rillet.storage.catalog import Catalog, StreamEntry
from rillet.storage.log import Log, refused
from rillet.storage.memory import MemoryStore
from rillet.storage.parquet import FileInfo, FileReader, ParquetPartition, write_partition
from rillet.storage.partitions import (
    Partition,
    between_offsets,
    by_start,
    bytes_by_start,
    find_values,
    overlapping,
    take_offsets,
)
from rillet.storage.retention import partitions_to_drop
from rillet.subscription import Subscriber, Subscription
from rillet.time import Granularity, bound_us, parse_duration_us

DURABILITY = ("memory", "relaxed", "durable")
logger = logging.getLogger("rillet")
from_iso = dt.datetime.fromisoformat
TimeBound = dt.datetime | str | int | None
SUBSCRIPTION = Kind(
    "a Subscription from subscribe()", lambda v: isinstance(v, Subscription), ConfigError
)


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How a stream is partitioned, kept and made durable (validated, as given)."""

    partition: str = "1h"
    retention: str | None = None
    max_bytes: int | None = None
    durability: str = "relaxed"
    #: how the write-ahead log's frames are compressed; None: the ``log_compression`` setting
    log_compression: str | None = None

    def __post_init__(self) -> None:
        for option in ("partition", "retention"):
            value = getattr(self, option)
            if not isinstance(value, str) and not (option == "retention" and value is None):
                raise ConfigError(
                    f"{option} must be a duration text such as '1h' or '7d', not {value!r}",
                    option=option,
                )
        Granularity.parse(self.partition)
        if self.retention is not None:
            parse_duration_us(self.retention, "retention")
        if self.max_bytes is not None and (
            isinstance(self.max_bytes, bool)
            or not isinstance(self.max_bytes, int)
            or self.max_bytes <= 0
        ):
            raise ConfigError(
                f"max_bytes must be a positive integer, got {self.max_bytes!r}", option="max_bytes"
            )
        if self.durability not in DURABILITY:
            raise ConfigError(
                f"durability {self.durability!r} is not one of {', '.join(DURABILITY)}",
                option="durability",
            )
        if self.log_compression is not None and self.log_compression not in LOG_COMPRESSIONS:
            raise ConfigError(
                f"log_compression {self.log_compression!r} is not one of "
                f"{', '.join(LOG_COMPRESSIONS)}",
                option="log_compression",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "retention": self.retention,
            "max_bytes": self.max_bytes,
            "durability": self.durability,
            "log_compression": self.log_compression,
        }


class Stream:
    """A named, typed, append-only stream of records.  Get one from :class:`rillet.Database`.

    Examples:
        >>> import rillet
        >>> db = rillet.connect()
        >>> s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
        >>> s.append(("2024-01-01T00:00:00Z", 7))
        0
        >>> s.read(0)["v"]
        7
    """

    def __init__(
        self,
        entry: StreamEntry,
        root: Path | None,
        catalog: Catalog,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = entry.name
        self.schema = Schema.build(entry.schema, entry.time_column)
        self.options = StreamOptions(**entry.options)
        self._settings = settings
        self._catalog = catalog
        self._root = root
        self._folder = root / "streams" / self.name if root is not None else None
        self._granularity = Granularity.parse(self.options.partition)
        self._retention_us = (
            parse_duration_us(self.options.retention, "retention")
            if self.options.retention
            else None
        )
        self._durable = self.options.durability == "durable"
        self._classify = self.schema.classify
        self._prepare = self.schema.prepare
        self._time_index = self.schema.time_index
        self._from_dict = self.schema.from_dict
        self._width = len(self.schema.columns)
        self._buffer_rows = settings.buffer_rows

        self._lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._seal_lock = threading.Lock()
        # batches being made of the buffers before: still readable until in memory
        self._recent: deque[Buffer] = deque(maxlen=4)
        self._memory = MemoryStore(self.schema.time_index, self._granularity)
        self._reader = FileReader(root) if root is not None else None
        self._files = [self._sealed(info) for info in catalog.files(self.name)]
        self._sealed_through = catalog.sealed_through(self.name)
        self._log: Log | None = None
        self._watermark = max((f.max_time for f in self._files), default=-(2**63))
        self._closed = False
        #: the error that failed the log (disk full, I/O error): appends and flush raise it
        self._failure: StorageError | None = None

        next_offset = max([entry.next_offset, *(f.max_offset + 1 for f in self._files)])
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._remove_orphans()
            if self.options.durability != "memory":
                self._log = Log(
                    self._folder / "wal",
                    self.schema.storage,
                    settings.segment_bytes,
                    self.options.log_compression or settings.log_compression,
                    stream=self.name,
                    durable=self._durable,
                    on_failure=self._log_failed,
                )
                for batch in self._log.replay():
                    if len(batch):
                        self._watermark = max(
                            self._watermark, self._memory.add(batch, self._sealed_through)
                        )
                        next_offset = max(
                            next_offset, batch.column(batch.num_columns - 1)[-1].as_py() + 1
                        )
        self._next = next_offset
        self._now_ns = time.time_ns if clock is time.time else lambda: int(clock() * 1e9)
        self._buffer = Buffer(self.schema, next_offset, now_ns=self._now_ns)
        self._subscriptions: list[Subscription] = []
        self._clock = clock
        self._last_ingest = clock()  # when a batch was last ingested (the injected clock)

    # -- writing ---------------------------------------------------------------------------

    def append(self, row: Any) -> int:
        """Append one record (a tuple in schema order, or a mapping); return its offset.

        A tuple may leave out the time column; the record is then stamped with the ingest time.
        The record is readable with :meth:`read` as soon as this returns.
        """
        record = row
        if type(row) is tuple:
            form = self._classify(row)
        elif type(row) is dict and len(row) == self._width:  # the usual mapping: inline
            try:
                row = self._from_dict(row)
                form = self._classify(row)
            except KeyError:
                form = 0
        else:
            form = 0
        if form == TEXT:  # checked here, converted in bulk with the buffer
            try:
                from_iso(row[self._time_index])
            except ValueError:
                form = 0  # prepare says what is wrong with it, or reads it another way
        if not form:  # a time left out of a mapping, a promotion, an error ...
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
            if form != EPOCH:  # converted in bulk with the buffer (Buffer.count, inline)
                buffer.forms[form] += 1
                if form >= UNTIMED and buffer.stamp is None:
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

    # -- subscribers ------------------------------------------------------------------------

    def subscribe(
        self, subscriber: Subscriber, name: str, from_offset: int | None = None
    ) -> Subscription:
        """Hand ``subscriber`` every batch ingested from now on, on a thread of its own;
        with ``from_offset``, first the stored records from that offset (see
        :mod:`rillet.subscription`)."""
        check(
            "subscribe",
            subscriber=(subscriber, SUBSCRIBER),
            name=(name, TEXT_OPTION),
            from_offset=(from_offset, INT | None),
        )
        with self._ingest_lock:
            with self._lock:
                buffer = self._take_buffer()
            if buffer is not None:
                self._ingest(buffer.batch())
            with self._lock:
                joined = self._buffer.first  # every offset before it is stored
            history = None
            if from_offset is not None and from_offset < joined:
                history = self.stored(from_offset, joined)
            subscription = Subscription(subscriber, name, self.name, history)
            self._subscriptions = [*self._subscriptions, subscription]
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop handing batches to a subscription, once it has seen those handed over."""
        check("unsubscribe", subscription=(subscription, SUBSCRIPTION))
        with self._ingest_lock:
            self._subscriptions = [s for s in self._subscriptions if s is not subscription]
        subscription.close()

    def wait_subscribers(self) -> None:
        """Wait until the subscribers have seen every batch ingested so far (read-your-
        writes); the caller may hold the ingest lock, never a lock a subscriber takes."""
        for subscription in self._subscriptions:
            subscription.wait()

    def caught_up(self) -> None:
        """Ingest the buffered records, then wait until the subscribers have seen them."""
        self._flush(sync=False)
        self.wait_subscribers()

    def stored(self, low: int = 0, high: int | None = None) -> Iterator[pa.RecordBatch]:
        """The stored records with offsets in ``[low, high)`` (to the last stored without
        ``high``): partition by partition in order of their smallest offset, each as batches
        in offset order.  Which partitions is settled when called; they are read as
        iterated, under no lock of the stream."""
        check("stored", low=(low, INT), high=(high, INT | None))
        return between_offsets(self.partitions(), low, 2**63 - 1 if high is None else high)

    def _ingest_buffer(self) -> None:
        """Move buffered single records into memory (and the log, and past the monitors)."""
        self._flush(sync=False)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A span in which no batch is ingested and every subscriber has observed every batch
        ingested before it: a subscriber changing what it keeps (a monitor replaying stored
        records for ``backfill``) does it here, so no batch falls between replay and live."""
        with self._ingest_lock:
            self.wait_subscribers()
            yield

    # -- reading ---------------------------------------------------------------------------

    @overload
    def read(self, offset: int) -> Record: ...

    @overload
    def read(self, offset: int, count: int) -> list[Record]: ...

    def read(self, offset: int, count: int | None = None) -> Record | list[Record]:
        """The record at ``offset``; with ``count``, a list of the records at offsets
        ``offset .. offset + count - 1`` that exist (fewer at the end of the stream)."""
        check("read", offset=(offset, INT), count=(count, INT | None))
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

    def partitions(self) -> list[Partition]:
        """The stored records, as partitions consistent with each other: the sealed files,
        then the memory partitions (readers needing an order sort them: by start, by offset).
        Records still buffered are not among them (see :meth:`_ingest_buffer`)."""
        with self._lock:
            return [*self._files, *self._memory.partitions.values()]

    def scan(self, start: TimeBound = None, end: TimeBound = None) -> Iterator[Record]:
        """The records with event time in ``[start, end)``, in event-time order (then offset).

        ``start``/``end``: datetime, ISO-8601 text or epoch nanoseconds; None is unbounded.
        """
        check("scan", start=(start, TIME | None), end=(end, TIME | None))
        return self._scan(start, end)  # a generator: checked above, when called

    def _scan(self, start: TimeBound, end: TimeBound) -> Iterator[Record]:
        low = bound_us(start)
        high = bound_us(end)
        self._flush(sync=False)
        tcol = self.schema.time_column
        for _, group in by_start(overlapping(self.partitions(), low, high)):
            batches = [batch for partition in group for batch in partition.scan(low, high)]
            if not batches:
                continue
            table = pa.Table.from_batches(batches)
            table = table.sort_by([(tcol, "ascending"), (OFFSET, "ascending")])
            yield from self._records(table)

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

    @property
    def root(self) -> Path | None:
        """The data folder (None in memory); sealed files' paths are relative to it."""
        return self._root

    @property
    def granularity(self) -> Granularity:
        """How the stream's time is cut into partitions."""
        return self._granularity

    @property
    def watermark(self) -> int:
        """The newest event time seen (epoch microseconds)."""
        return self._watermark

    @property
    def log_bytes_written(self) -> int:
        """Bytes written to the write-ahead log since the stream was opened (0 without a log)."""
        return self._log.written if self._log is not None else 0

    def __len__(self) -> int:
        """The number of records stored now (appended and not dropped by retention)."""
        with self._ingest_lock:  # no batch is between the buffer and memory
            with self._lock:
                buffered = len(self._buffer.rows)
            return buffered + sum(p.rows for p in self.partitions())

    @property
    def next_offset(self) -> int:
        """The offset the next appended record will get."""
        return self._next

    @property
    def time_column(self) -> str:
        return self.schema.time_column

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, {str(self.schema)!r}, time_column={self.time_column!r})"

    # -- background: commit, seal, retention -------------------------------------------------

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

    def _maintain(self) -> None:
        """Seal closed partitions, apply retention and trim the log."""
        self.seal()
        self.apply_retention()

    def seal(self, everything: bool = False) -> int:
        """Write closed partitions (all, with ``everything``) to Parquet; return files written."""
        check("seal", everything=(everything, FLAG))
        if self._root is None or self._folder is None or self._failure is not None:
            return 0
        written = 0
        with self._seal_lock:
            if self._closed:
                return 0
            grace = int(self._granularity.nominal_us() * self._settings.seal_grace)
            for partition in sorted(self._memory.partitions.values(), key=lambda p: p.start):
                closed = partition.end + grace <= self._watermark
                if not (everything or closed or partition.rows >= self._settings.seal_rows):
                    continue
                with self._ingest_lock:
                    current = self._memory.partitions.get(partition.start)
                    if current is None or not current.batches:
                        continue
                    batches = current.freeze()
                    through = self._buffer.first - 1
                first = current.firsts[0]
                stamp = dt.datetime.fromtimestamp(current.start / 1e6, dt.UTC).strftime(
                    "%Y%m%dT%H%M%S"
                )
                relative = f"streams/{self.name}/{stamp}/{first:020d}.parquet"
                info = write_partition(
                    self._root,
                    relative,
                    batches,
                    current.start,
                    self.schema.time_index,
                    self._settings.row_group_rows,
                )
                if self._log is not None:
                    # the catalog's next offset must not run ahead of the logged records: after
                    # a power loss, relaxed may lose its last records but never leave a gap
                    self._log.sync()
                self._catalog.add_file(self.name, info, through, through + 1)
                with self._ingest_lock, self._lock:
                    self._files = [*self._files, self._sealed(info)]
                    self._memory.remove_sealed(current.start, batches)
                    self._sealed_through[current.start] = max(
                        self._sealed_through.get(current.start, -1), through
                    )
                written += 1
        if written:
            self._trim_log()
        return written

    def apply_retention(self) -> list[int]:
        """Drop the whole oldest partitions that retention says go; return their starts.

        Never waits for a subscriber holding the ingest lock or ``_lock``: each subscriber is
        told what went behind the batches handed over before the drop, and applies it on its
        own thread; this returns once they have (waiting under no lock of the stream).
        """
        if self._retention_us is None and self.options.max_bytes is None:
            return []
        with self._seal_lock:
            if self._closed:
                return []
            partitions = self.partitions()
            sizes = bytes_by_start(partitions)
            ends = {partition.start: partition.end for partition in partitions}
            drop = partitions_to_drop(
                sizes, ends, self._watermark, self._retention_us, self.options.max_bytes
            )
            if not drop:
                return []
            # a late subscriber's catch-up reads stored files on its thread, maybe the ones
            # to delete; appenders and readers go on meanwhile (only sealing waits)
            for subscription in self._subscriptions:
                subscription.wait_history()
            with self._ingest_lock:
                if any(s.catching_up for s in self._subscriptions):
                    return []  # one started since: the next round drops
                with self._lock:
                    self._recent.clear()  # its rows are all in memory now, some maybe dropped
                    through = self._buffer.first - 1
                    self._catalog.drop_partitions(
                        self.name, {s: through for s in drop}, through + 1
                    )
                    gone = [f for f in self._files if f.start in drop]
                    self._files = [f for f in self._files if f.start not in drop]
                    for start in drop:
                        self._memory.drop(start)
                        self._sealed_through[start] = through
                    kept = [f.start for f in self._files] + list(self._memory.partitions)
                # behind every batch that held a dropped record (all were handed over under
                # this lock), never waiting: the subscribers apply it in order on their threads
                told = list(self._subscriptions)
                for subscription in told:
                    subscription.forget_before(min(kept) if kept else self._watermark + 1)
            for info in gone:
                if self._reader is not None and self._root is not None:
                    self._reader.forget(info.path)
                    (self._root / info.path).unlink(missing_ok=True)
        self._trim_log()
        # a reader after this call sees the subscribers' states without the dropped records
        for subscription in told:
            subscription.wait()
        return drop

    def _trim_log(self) -> None:
        if self._log is None:
            return
        with self._ingest_lock:
            low = self._memory.low_water()
            self._log.trim(low if low is not None else self._buffer.first)

    def _remove_orphans(self) -> None:
        """Delete files a crash left behind: temporaries and files the catalog never took."""
        assert self._folder is not None and self._root is not None
        known = {f.path for f in self._files}
        for path in self._folder.rglob("*.parquet*"):
            if path.relative_to(self._root).as_posix() not in known:
                path.unlink()

    def _sealed(self, info: FileInfo) -> ParquetPartition:
        assert self._reader is not None  # files exist only in a data folder
        end = self._granularity.end(info.partition)
        return ParquetPartition.of(info, self._reader, end, self.schema.time_index)

    def _close(self) -> None:
        """Make everything durable: log and fsync; a memory-durability stream seals all.

        After a log failure the buffered records cannot be stored: the stream closes all the
        same, and a StorageError from this close (the flush failing now) comes after it."""
        try:
            if self._failure is None:
                self._flush(sync=True)
        finally:
            self._close_subscribers()
            if self.options.durability == "memory":
                self.seal(everything=True)
            with self._lock:
                self._closed = True
            if self._log is not None:
                self._log.close()

    def _destroy(self) -> None:
        """Close and delete every file of this stream (the catalog entry is already gone).

        Waits for a seal or flush under way, and background work after it finds the stream
        closed, so nothing is written into the folder once it is removed.
        """
        self._close_subscribers()
        with self._seal_lock, self._ingest_lock, self._lock:
            self._closed = True
        if self._log is not None:
            self._log.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _close_subscribers(self) -> None:
        """Let the subscribers see what was handed over, and stop their threads."""
        for subscription in self._subscriptions:
            subscription.close()
