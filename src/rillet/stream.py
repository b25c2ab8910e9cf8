"""Stream: a named, typed, append-only sequence of records with dense offsets.

A stream is opened here (its files, log replay and buffer: recovery); what it does is in the
parts of :mod:`rillet.streaming`, one concern a module: ingest, subscribers, reads, upkeep.
Lock order: ``_seal_lock`` -> ``_ingest_lock`` -> ``_lock``; docs/threads.md lists every
thread, what runs under which lock, and who waits for whom.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rillet.buffer import Buffer
from rillet.errors import StorageError
from rillet.schema import Schema
from rillet.settings import Settings
from rillet.storage.catalog import Catalog, StreamEntry
from rillet.storage.log import Log
from rillet.storage.memory import MemoryStore
from rillet.storage.parquet import FileReader
from rillet.streaming.options import DURABILITY, StreamOptions
from rillet.streaming.reads import TimeBound
from rillet.streaming.upkeep import Upkeep
from rillet.subscription import Subscription
from rillet.time import Granularity, parse_duration_us

__all__ = ["DURABILITY", "Stream", "StreamOptions", "TimeBound"]


class Stream(Upkeep):
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
        self._from_dict_untimed = self.schema._from_dict_untimed
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
        self._readers = 0
        self._doomed: list[Path] = []
        self._readers_lock = threading.Lock()
        self._sealed_through = catalog.sealed_through(self.name)
        self._log: Log | None = None
        self._watermark = max((f.max_time for f in self._files), default=-(2**63))
        self._closed = False
        self._dropping = False
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

    @property
    def next_offset(self) -> int:
        """The offset the next appended record will get."""
        return self._next

    @property
    def time_column(self) -> str:
        """The column of event time (``_time``, the arrival time, for a stream without one)."""
        return self.schema.time_column

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, {str(self.schema)!r}, time_column={self.time_column!r})"

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
