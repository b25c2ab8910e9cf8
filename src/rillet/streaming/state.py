"""What every part of a stream shares: its definition, its locks and where its records are.

Lock order: ``_seal_lock`` -> ``_ingest_lock`` -> ``_lock``; docs/threads.md lists every
thread, what runs under which lock, and who waits for whom.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rillet.buffer import Buffer
from rillet.errors import StorageError
from rillet.schema import Schema
from rillet.settings import Settings
from rillet.storage.catalog import Catalog
from rillet.storage.log import Log
from rillet.storage.memory import MemoryStore
from rillet.storage.parquet import FileReader, ParquetPartition
from rillet.storage.partitions import Partition
from rillet.streaming.options import StreamOptions
from rillet.subscription import Subscription
from rillet.time import Granularity


class StreamState:
    """The state of a stream that its parts read and change (set by ``Stream.__init__``)."""

    name: str
    schema: Schema
    options: StreamOptions
    _settings: Settings
    _catalog: Catalog
    _root: Path | None
    _folder: Path | None
    _granularity: Granularity
    _retention_us: int | None
    _durable: bool
    # the schema's checks, bound once: single appends call them for every record
    _classify: Callable[[tuple[Any, ...]], int]
    _prepare: Callable[[Any, str, int], tuple[tuple[Any, ...], int]]
    _time_index: int
    _from_dict: Callable[[Any], tuple[Any, ...]]
    _from_dict_untimed: Callable[[Any], tuple[Any, ...]]
    _width: int
    _buffer_rows: int
    #: the buffer, offsets and partitions lists (held briefly, also by every append)
    _lock: threading.Lock
    #: batches go to log, memory and subscribers in offset order under it
    _ingest_lock: threading.Lock
    #: one seal or retention round at a time
    _seal_lock: threading.Lock
    #: batches being made of the buffers before: still readable until in memory
    _recent: deque[Buffer]
    _memory: MemoryStore
    _reader: FileReader | None
    _files: list[ParquetPartition]
    #: queries reading the sealed files now, and the files retention dropped meanwhile
    #: (deleted once the last of those queries ends), under ``_readers_lock``
    _readers: int
    _doomed: list[Path]
    _readers_lock: threading.Lock
    _sealed_through: dict[int, int]
    _log: Log | None
    _watermark: int
    _closed: bool
    #: its catalog entry is being removed (drop, REFRESH): a seal under way finds it gone
    _dropping: bool
    #: the error that failed the log (disk full, I/O error): appends and flush raise it
    _failure: StorageError | None
    _next: int
    _now_ns: Callable[[], int]
    _buffer: Buffer
    _subscriptions: list[Subscription]
    _clock: Callable[[], float]
    #: when a batch was last ingested (the injected clock)
    _last_ingest: float

    def partitions(self) -> list[Partition]:
        """The stored records, as partitions consistent with each other: the sealed files,
        then the memory partitions (readers needing an order sort them: by start, by offset).
        Records still buffered are not among them (see :meth:`_ingest_buffer`)."""
        with self._lock:
            return [*self._files, *self._memory.partitions.values()]

    def wait_subscribers(self) -> None:
        """Wait until the subscribers have seen every batch ingested so far (read-your-
        writes); the caller may hold the ingest lock, never a lock a subscriber takes."""
        for subscription in self._subscriptions:
            subscription.wait()
