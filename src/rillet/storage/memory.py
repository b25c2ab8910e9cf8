"""Memory partitions: the unsealed records of a stream as Arrow batches, by time partition.

Each partition keeps its batches in offset order (every batch's ``_offset`` column ascends),
so a record is found by bisecting batch starts and then its offsets.  Lists are replaced,
never changed in place, so readers may walk a snapshot without a lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from rillet.storage.chunk import Chunk
from rillet.time import Granularity

#: batches smaller than this are merged once a partition gathers many of them
SMALL_BATCH = 16 * 1024
MANY_BATCHES = 64


@dataclass(slots=True)
class MemoryPartition:
    """The in-memory records of one time partition ``[start, end)`` (epoch microseconds)."""

    start: int
    end: int
    # (chunks, first offset of each): replaced as one value, so a reader never sees the two
    # lists from different moments
    view: tuple[list[Chunk], list[int]] = field(default_factory=lambda: ([], []))
    rows: int = 0
    nbytes: int = 0
    min_time: int = 2**63 - 1
    max_time: int = -(2**63)
    frozen: int = 0  # leading chunks being sealed: compaction must not merge them

    def add(self, batch: pa.RecordBatch, times: np.ndarray) -> None:
        chunk = Chunk(batch)
        chunks, firsts = self.view
        self.view = ([*chunks, chunk], [*firsts, chunk.first])
        self.rows += len(batch)
        self.nbytes += batch.nbytes
        self.min_time = min(self.min_time, int(times.min()))
        self.max_time = max(self.max_time, int(times.max()))
        if len(self.view[0]) >= MANY_BATCHES:
            self._compact()

    def _compact(self) -> None:
        # Many small batches (from single-record appends) make scans and lookups slow: merge
        # the run of small ones at the tail into one.
        chunks, firsts = self.view
        start = len(chunks)
        while start > self.frozen and len(chunks[start - 1]) < SMALL_BATCH:
            start -= 1
        if len(chunks) - start < 2:
            return
        batches = [c.batch for c in chunks[start:]]
        merged = Chunk(pa.Table.from_batches(batches).combine_chunks().to_batches()[0])
        self.view = ([*chunks[:start], merged], [*firsts[:start], merged.first])

    def find(self, offset: int) -> tuple[Chunk, int] | None:
        chunks, firsts = self.view
        i = bisect.bisect_right(firsts, offset) - 1
        if i < 0:
            return None
        j = chunks[i].position(offset)
        return None if j is None else (chunks[i], j)

    def without(self, sealed: list[pa.RecordBatch]) -> MemoryPartition:
        """This partition less the batches ``sealed`` (the prefix :meth:`freeze` returned)."""
        n = len(sealed)
        chunks, firsts = self.view
        rest = MemoryPartition(self.start, self.end, (chunks[n:], firsts[n:]))
        rest.rows = sum(len(c) for c in rest.view[0])
        rest.nbytes = sum(c.batch.nbytes for c in rest.view[0])
        rest.min_time, rest.max_time = self.min_time, self.max_time  # bounds stay conservative
        return rest

    def freeze(self) -> list[pa.RecordBatch]:
        """The batches to seal now; compaction leaves them alone until they are removed."""
        self.frozen = len(self.view[0])
        return self.batches

    @property
    def batches(self) -> list[pa.RecordBatch]:
        return [c.batch for c in self.view[0]]

    @property
    def firsts(self) -> list[int]:
        return self.view[1]

    @property
    def min_offset(self) -> int:
        return self.firsts[0] if self.firsts else 2**63 - 1


class MemoryStore:
    """All memory partitions of one stream."""

    def __init__(self, time_index: int, granularity: Granularity) -> None:
        self.time_index = time_index
        self.granularity = granularity
        self.partitions: dict[int, MemoryPartition] = {}

    def split(self, batch: pa.RecordBatch) -> Iterator[tuple[int, pa.RecordBatch, np.ndarray]]:
        """``batch`` cut by partition: (partition start, rows, their times in us)."""
        times = batch.column(self.time_index).cast(pa.int64()).to_numpy()
        keys = self.granularity.floor(times)
        if len(keys) == 0:
            return
        if keys.min() == keys.max():
            yield int(keys[0]), batch, times
            return
        for key in np.unique(keys):
            mask = keys == key
            yield int(key), batch.filter(pa.array(mask)), times[mask]

    def add(self, batch: pa.RecordBatch, skip_through: dict[int, int] | None = None) -> int:
        """Place the rows of ``batch`` in their partitions; return the newest time placed.

        ``skip_through`` maps a partition start to the highest offset already sealed or
        dropped there: replaying the log skips those rows.
        """
        newest = -(2**63)
        for key, rows, times in self.split(batch):
            offsets = rows.column(rows.num_columns - 1).to_numpy()
            if skip_through is not None and key in skip_through:
                keep = offsets > skip_through[key]
                if not keep.any():
                    continue
                if not keep.all():
                    rows, times, offsets = rows.filter(pa.array(keep)), times[keep], offsets[keep]
            partition = self.partitions.get(key)
            if partition is None:
                partition = MemoryPartition(key, self.granularity.end(key))
                self.partitions = {**self.partitions, key: partition}
            partition.add(rows, times)
            newest = max(newest, partition.max_time)
        return newest

    def find(self, offset: int) -> tuple[Chunk, int] | None:
        # newest partitions first: recent records are the ones read most
        for partition in reversed(list(self.partitions.values())):
            if partition.firsts and partition.firsts[0] <= offset:
                found = partition.find(offset)
                if found is not None:
                    return found
        return None

    def remove_sealed(self, start: int, sealed: list[pa.RecordBatch]) -> None:
        partition = self.partitions.get(start)
        if partition is None:
            return
        rest = partition.without(sealed)
        partitions = dict(self.partitions)
        if rest.batches:
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
        return sum(p.rows for p in list(self.partitions.values()))

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in list(self.partitions.values()))

    def low_water(self) -> int | None:
        """The smallest offset held in memory, or None when empty."""
        values = [p.min_offset for p in list(self.partitions.values()) if p.firsts]
        return min(values) if values else None
