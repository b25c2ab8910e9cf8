"""Partitions: a stream's stored records behind one interface, wherever they are kept.

A :class:`Partition` is one unit of storage: the memory records of one time partition
(:class:`~rillet.storage.memory.MemoryPartition`) or one sealed Parquet file
(:class:`~rillet.storage.parquet.ParquetPartition`); a data file of an Iceberg table would be
a third.  Each knows the time range it belongs to (``start``/``end``), so a partition of
design.md ("the records of one hour") is the group of Partitions sharing a ``start``, and
retention drops such a group whole.

A Partition is one file rather than one time range because an hour is often kept in several
places at once: a busy hour is sealed in pieces (``seal_rows``), late records are sealed after
it, and records arriving later still sit in memory.  A time-range Partition would hide that
mix inside itself, switching between files and memory as ``Stream`` used to.  A file also has
exact bounds of its own (the catalog keeps its offset and time range), by which a point read
or a ``take`` skips it, and it is immutable, as an Iceberg data file is.  A memory partition is
replaced, never changed, when records arrive, so every Partition is a value: a list of them
taken under the stream's lock is a consistent snapshot, walked afterwards without a lock.

The functions below are the readers' loops over such a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.batches import decoded
from rillet.schema import OFFSET


class Partition(Protocol):
    """Records of a stream in one place, each batch's last column ``_offset`` (ascending).

    Times are epoch microseconds; ``low``/``high`` bounds are half-open, None unbounded.
    """

    @property
    def start(self) -> int:
        """The start of the time partition the records belong to."""

    @property
    def end(self) -> int:
        """The end (exclusive) of that time partition."""

    @property
    def min_time(self) -> int:
        """No record is older; the oldest may be newer (a memory partition keeps its bounds
        when some of its records are sealed)."""

    @property
    def max_time(self) -> int:
        """No record is newer; a bound, as ``min_time`` is."""

    @property
    def min_offset(self) -> int:
        """The smallest offset held."""

    @property
    def max_offset(self) -> int:
        """The largest offset held."""

    @property
    def rows(self) -> int:
        """How many records it holds."""

    @property
    def nbytes(self) -> int:
        """What it costs: bytes on disk for a file, Arrow buffers in memory (retention's
        size quota counts these)."""

    @property
    def parquet_path(self) -> str | None:
        """The Parquet file holding the records, for engines that read it themselves
        (DuckDB's ``read_parquet``, with its own row-group pruning and threads); None when
        the records are only in memory, to be handed over as Arrow (:meth:`scan`)."""

    def find(self, offset: int) -> tuple[Any, ...] | None:
        """The values of the record at ``offset`` (without ``_offset``, as ``to_pylist``
        gives them), or None if it does not hold it."""

    def scan(
        self, low: int | None = None, high: int | None = None, dictionaries: bool = False
    ) -> Iterator[pa.RecordBatch]:
        """The records with time in ``[low, high)``, as non-empty batches in offset order;
        with ``dictionaries``, text columns may come dictionary-encoded, as a file holds them
        (read at a third of the cost, and numbered as group keys by their dictionary)."""

    def take(self, offsets: np.ndarray) -> pa.Table | None:
        """The records at ``offsets`` (sorted, unique int64) that it holds, in offset order;
        None when it holds none of them."""


def in_time(
    batch: pa.RecordBatch, time_index: int, low: int | None, high: int | None
) -> pa.RecordBatch:
    """The rows of ``batch`` whose time (column ``time_index``) is in ``[low, high)``."""
    times = batch.column(time_index).cast(pa.int64())
    mask = None
    if low is not None:
        mask = pc.greater_equal(times, pa.scalar(low))
    if high is not None:
        upper = pc.less(times, pa.scalar(high))
        mask = upper if mask is None else pc.and_(mask, upper)
    return batch if mask is None else batch.filter(mask)


def find_values(partitions: Iterable[Partition], offset: int) -> tuple[Any, ...] | None:
    """The values of the record at ``offset`` from the first of ``partitions`` holding it;
    the caller orders them (newest first: recent records are the ones read most)."""
    for partition in partitions:
        if partition.min_offset <= offset <= partition.max_offset:
            values = partition.find(offset)
            if values is not None:
                return values
    return None


def overlapping(
    partitions: Iterable[Partition], low: int | None, high: int | None
) -> list[Partition]:
    """The partitions that may hold a record with time in ``[low, high)``.

    Examples:
        >>> from types import SimpleNamespace as P
        >>> parts = [P(min_time=0, max_time=9), P(min_time=10, max_time=19)]
        >>> [p.min_time for p in overlapping(parts, 9, 10)], overlapping(parts, 20, None)
        ([0], [])
    """
    return [
        p
        for p in partitions
        if (low is None or p.max_time >= low) and (high is None or p.min_time < high)
    ]


def by_start(partitions: Iterable[Partition]) -> list[tuple[int, list[Partition]]]:
    """The partitions grouped by time partition, oldest first, each group in the order given.

    Examples:
        >>> from types import SimpleNamespace as P
        >>> a, b, c = P(start=10), P(start=0), P(start=10)
        >>> by_start([a, b, c]) == [(0, [b]), (10, [a, c])]
        True
    """
    groups: dict[int, list[Partition]] = {}
    for partition in partitions:
        groups.setdefault(partition.start, []).append(partition)
    return sorted(groups.items(), key=lambda item: item[0])


def between_offsets(
    partitions: Iterable[Partition], low: int, high: int, dictionaries: bool = False
) -> Iterator[pa.RecordBatch]:
    """The records with offsets in ``[low, high)``, as batches in offset order, read as
    iterated (``dictionaries``: as :meth:`Partition.scan`).

    Partitions are read in order of their smallest offset, each in offset order.  Records
    out of time order put offsets of one partition among another's: a record is given once
    every record before it has been read (every one of the partitions read so far, of the
    one being read up to its batch, and none of the partitions after, whose smallest
    offsets are greater).  Only the records of overlapping partitions wait, so memory is
    bounded by how much partitions overlap; in-order partitions go as they are read.

    Examples:
        >>> from types import SimpleNamespace as P
        >>> def part(offsets):
        ...     batch = pa.record_batch({OFFSET: pa.array(offsets, pa.int64())})
        ...     return P(min_offset=min(offsets), max_offset=max(offsets),
        ...              scan=lambda dictionaries: [batch])
        >>> out = between_offsets([part([0, 1, 5]), part([2, 3, 4, 6])], 1, 100)
        >>> [b.column(0).to_pylist() for b in out]
        [[1], [2, 3, 4], [5, 6]]
    """
    chosen = sorted(
        (p for p in partitions if p.max_offset >= low and p.min_offset < high),
        key=lambda p: p.min_offset,
    )
    waiting: list[pa.RecordBatch] = []  # read, not given: not every record before is read;
    # each in offset order
    for i, partition in enumerate(chosen):
        after = chosen[i + 1].min_offset if i + 1 < len(chosen) else high
        for batch in partition.scan(dictionaries=dictionaries):
            offsets = batch.column(batch.num_columns - 1).to_numpy()
            keep = (offsets >= low) & (offsets < high)
            if not keep.all():
                if not keep.any():
                    continue
                batch, offsets = batch.filter(pa.array(keep)), offsets[keep]
            through = min(after, int(offsets[-1]) + 1)  # every record below it is read
            # the batch's records below the least that waits go as they are (a slice)
            least = min(
                (int(b.column(b.num_columns - 1)[0].as_py()) for b in waiting), default=through
            )
            cut = int(np.searchsorted(offsets, min(least, through)))
            if cut:
                yield batch if cut == len(offsets) else batch.slice(0, cut)
            if cut == len(offsets):
                continue
            waiting.append(batch.slice(cut))
            ready, waiting = _before(waiting, through)
            if ready is not None:
                yield ready
    if waiting:
        ready, _ = _before(waiting, high)
        if ready is not None:
            yield ready


def _before(
    batches: list[pa.RecordBatch], through: int
) -> tuple[pa.RecordBatch | None, list[pa.RecordBatch]]:
    """Of ``batches``, the records with offsets below ``through`` as one batch in offset
    order (None for none), and the others, still waiting."""
    table = pa.Table.from_batches([decoded(b) for b in batches]).sort_by(OFFSET)
    offsets = table.column(OFFSET).to_numpy()
    cut = int(np.searchsorted(offsets, through))
    ready = table.slice(0, cut).combine_chunks().to_batches() if cut else []
    rest = table.slice(cut).combine_chunks().to_batches() if cut < table.num_rows else []
    return (ready[0] if ready else None), rest


def take_offsets(
    partitions: Iterable[Partition], offsets: np.ndarray, schema: pa.Schema
) -> pa.Table:
    """The records at ``offsets`` (sorted, unique int64) as a table of ``schema``, in offset
    order; a partition none of them can be in is not read."""
    parts = []
    for partition in partitions:
        lo, hi = np.searchsorted(offsets, [partition.min_offset, partition.max_offset + 1])
        if lo < hi and (table := partition.take(offsets[lo:hi])) is not None:
            parts.append(table)
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).sort_by(OFFSET)


def bytes_by_start(partitions: Sequence[Partition]) -> dict[int, int]:
    """Bytes by time partition start (files and memory together), as retention weighs them.

    Examples:
        >>> from types import SimpleNamespace as P
        >>> bytes_by_start([P(start=0, nbytes=5), P(start=10, nbytes=1), P(start=0, nbytes=2)])
        {0: 7, 10: 1}
    """
    total: dict[int, int] = {}
    for partition in partitions:
        total[partition.start] = total.get(partition.start, 0) + partition.nbytes
    return total
