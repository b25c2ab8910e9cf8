"""Memory partitions: the unsealed records of a stream as Arrow batches, by time partition.

Each partition keeps its batches in offset order (every batch's ``_offset`` column ascends),
so a record is found by bisecting batch starts and then its offsets.  A partition is a value:
adding records makes a new one (the store's dict is replaced too), so a reader holding one
sees a single moment (a :class:`~rillet.storage.partitions.Partition`) without a lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rillet.storage.chunk import Chunk
from rillet.storage.partitions import in_time
from rillet.time import Granularity

#: batches smaller than this are merged once a partition gathers many of them
SMALL_BATCH = 16 * 1024
MANY_BATCHES = 64


@dataclass(slots=True)
class MemoryPartition:
    """The in-memory records of one time partition ``[start, end)`` (epoch microseconds).

    Never changed once made, but for ``frozen``, which only the sealer sets and readers never
    look at: :meth:`plus` and :meth:`without` return new partitions.
    """

    start: int
    end: int
    time_index: int
    chunks: list[Chunk]
    firsts: list[int]  # the first offset of each chunk, for bisecting
    rows: int
    nbytes: int
    min_time: int
    max_time: int
    min_offset: int
    max_offset: int
    frozen: int = 0  # leading chunks being sealed: compaction must not merge them

    @classmethod
    def of(
        cls, start: int, end: int, time_index: int, chunks: list[Chunk], times: tuple[int, int]
    ) -> MemoryPartition:
        """A partition of ``chunks`` (offset order, at least one), its records' times within
        ``times`` (min, max)."""
        return cls(
            start,
            end,
            time_index,
            chunks,
            [c.first for c in chunks],
            sum(len(c) for c in chunks),
            sum(c.batch.nbytes for c in chunks),
            times[0],
            times[1],
            chunks[0].first,
            chunks[-1].last,
        )

    def plus(self, batch: pa.RecordBatch, times: np.ndarray) -> MemoryPartition:
        """This partition and ``batch`` (later offsets; ``times`` its times in us)."""
        chunk = Chunk(batch)
        chunks, firsts = [*self.chunks, chunk], [*self.firsts, chunk.first]
        if len(chunks) >= MANY_BATCHES:
            chunks = _compact(chunks, self.frozen)
            firsts = [c.first for c in chunks]
        # counted as the batches come, not summed over the chunks: every batch makes a new
        # partition (every record, appended one at a time in durable mode)
        return MemoryPartition(
            self.start,
            self.end,
            self.time_index,
            chunks,
            firsts,
            self.rows + len(batch),
            self.nbytes + batch.nbytes,
            min(self.min_time, int(times.min())),
            max(self.max_time, int(times.max())),
            self.min_offset,
            chunk.last,
            self.frozen,
        )

    def locate(self, offset: int) -> tuple[Chunk, int] | None:
        """The chunk holding ``offset`` and its row there."""
        i = bisect.bisect_right(self.firsts, offset) - 1
        if i < 0:
            return None
        chunk = self.chunks[i]
        j = chunk.position(offset)
        return None if j is None else (chunk, j)

    def without(self, sealed: list[pa.RecordBatch]) -> MemoryPartition | None:
        """This partition less the batches ``sealed`` (the prefix :meth:`freeze` returned);
        None when nothing is left."""
        rest = self.chunks[len(sealed) :]
        if not rest:
            return None
        # the time bounds stay as they were: wider than the rest's, which is all they promise
        times = (self.min_time, self.max_time)
        return MemoryPartition.of(self.start, self.end, self.time_index, rest, times)

    def freeze(self) -> list[pa.RecordBatch]:
        """The batches to seal now; compaction leaves them alone until they are removed."""
        self.frozen = len(self.chunks)
        return self.batches

    @property
    def batches(self) -> list[pa.RecordBatch]:
        return [c.batch for c in self.chunks]

    # -- Partition ---------------------------------------------------------------------------

    @property
    def parquet_path(self) -> str | None:
        return None

    def find(self, offset: int) -> tuple[Any, ...] | None:
        found = self.locate(offset)
        return None if found is None else found[0].row(found[1])

    def scan(
        self, low: int | None = None, high: int | None = None, dictionaries: bool = False
    ) -> Iterator[pa.RecordBatch]:
        whole = (low is None or low <= self.min_time) and (high is None or self.max_time < high)
        for chunk in self.chunks:
            batch = chunk.batch
            if whole:
                yield batch
                continue
            kept = in_time(batch, self.time_index, low, high)
            if len(kept):
                yield kept

    def take(self, offsets: np.ndarray) -> pa.Table | None:
        parts = []
        for chunk in self.chunks:
            lo, hi = np.searchsorted(offsets, [chunk.first, chunk.last + 1])
            if lo < hi:
                have = chunk.offsets
                wanted = offsets[lo:hi]
                positions = np.searchsorted(have, wanted)
                positions = positions[have[np.minimum(positions, len(have) - 1)] == wanted]
                parts.append(chunk.batch.take(pa.array(positions)))
        return pa.Table.from_batches(parts) if parts else None


def _compact(chunks: list[Chunk], frozen: int) -> list[Chunk]:
    """``chunks`` with the run of small ones at the tail (after the ``frozen``) merged into
    one: many small batches (from single-record appends) make scans and lookups slow."""
    start = len(chunks)
    while start > frozen and len(chunks[start - 1]) < SMALL_BATCH:
        start -= 1
    if len(chunks) - start < 2:
        return chunks
    batches = [c.batch for c in chunks[start:]]
    merged = Chunk(pa.Table.from_batches(batches).combine_chunks().to_batches()[0])
    return [*chunks[:start], merged]


class MemoryStore:
    """All memory partitions of one stream."""

    def __init__(self, time_index: int, granularity: Granularity) -> None:
        self.time_index = time_index
        self.granularity = granularity
        self.partitions: dict[int, MemoryPartition] = {}

    def split(self, batch: pa.RecordBatch) -> Iterator[tuple[int, pa.RecordBatch, np.ndarray]]:
        """``batch`` cut by partition: (partition start, rows, their times in us)."""
        times = batch.column(self.time_index).cast(pa.int64()).to_numpy()
        if len(times) == 0:
            return
        # most batches fall in one partition: told by their first and last times, without
        # the partition of every row (a division a row: a tenth of an append's time)
        low, high = self.granularity.floor(np.array([times.min(), times.max()])).tolist()
        if low == high:
            yield low, batch, times
            return
        keys = self.granularity.floor(times)
        for key in np.unique(keys):
            mask = keys == key
            yield int(key), batch.filter(pa.array(mask)), times[mask]

    def add(self, batch: pa.RecordBatch, skip_through: dict[int, int] | None = None) -> int:
        """Place the rows of ``batch`` in their partitions; return the newest time placed.

        ``skip_through`` maps a partition start to the highest offset already sealed or
        dropped there: replaying the log skips those rows.
        """
        newest = -(2**63)
        partitions = dict(self.partitions)  # one new dict: readers see all of a batch or none
        for key, rows, times in self.split(batch):
            offsets = rows.column(rows.num_columns - 1).to_numpy()
            if skip_through is not None and key in skip_through:
                keep = offsets > skip_through[key]
                if not keep.any():
                    continue
                if not keep.all():
                    rows, times, offsets = rows.filter(pa.array(keep)), times[keep], offsets[keep]
            partition = partitions.get(key)
            if partition is None:
                bounds = (int(times.min()), int(times.max()))
                end = self.granularity.end(key)
                partition = MemoryPartition.of(key, end, self.time_index, [Chunk(rows)], bounds)
            else:
                partition = partition.plus(rows, times)
            partitions[key] = partition
            newest = max(newest, partition.max_time)
        self.partitions = partitions
        return newest

    def find(self, offset: int) -> tuple[Chunk, int] | None:
        """The chunk and row of ``offset``, newest partitions first."""
        for partition in reversed(self.partitions.values()):
            if partition.min_offset <= offset:
                found = partition.locate(offset)
                if found is not None:
                    return found
        return None

    def remove_sealed(self, start: int, sealed: list[pa.RecordBatch]) -> None:
        partition = self.partitions.get(start)
        if partition is None:
            return
        rest = partition.without(sealed)
        partitions = dict(self.partitions)
        if rest is not None:
            partitions[start] = rest
        else:
            del partitions[start]
        self.partitions = partitions

    def drop(self, start: int) -> None:
        self.partitions = {k: v for k, v in self.partitions.items() if k != start}

    def batches(self) -> list[pa.RecordBatch]:
        return [
            b for p in sorted(self.partitions.values(), key=lambda p: p.start) for b in p.batches
        ]

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions.values())

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.partitions.values())

    def low_water(self) -> int | None:
        """The smallest offset held in memory, or None when empty."""
        return min((p.min_offset for p in self.partitions.values()), default=None)
