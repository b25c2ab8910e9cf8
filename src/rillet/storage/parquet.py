"""Sealed partitions: immutable Parquet files (zstd, statistics), one or more per partition.

A file holds the stream's columns plus ``_offset``, in offset order, and is written to a
temporary name, fsynced and renamed, so it is either whole or absent.  Each file is read as
a :class:`ParquetPartition`, skipping row groups by their statistics.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rillet.storage.chunk import Chunk
from rillet.storage.files import fsync_dir
from rillet.storage.partitions import in_time


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the catalog knows of a sealed file (times in epoch microseconds)."""

    path: str  # relative to the data folder
    partition: int
    rows: int
    bytes: int
    min_offset: int
    max_offset: int
    min_time: int
    max_time: int


def write_partition(
    root: Path,
    relative: str,
    batches: list[pa.RecordBatch],
    partition: int,
    time_index: int,
    row_group_rows: int,
) -> FileInfo:
    """Write ``batches`` (offset order) as one Parquet file at ``root / relative``."""
    table = pa.Table.from_batches(batches)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Dictionaries pay only for text; on numbers they triple the write time and grow the file.
    # Offsets ascend and times mostly do: delta encoding halves them and writes faster.
    schema = table.schema
    text = [f.name for f in schema if _text(f.type)]
    delta = {table.schema.field(time_index).name: "DELTA_BINARY_PACKED"}
    delta[table.schema.field(table.num_columns - 1).name] = "DELTA_BINARY_PACKED"
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        write_statistics=True,
        row_group_size=row_group_rows,
        use_dictionary=text,
        column_encoding=delta,
    )
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    times = table.column(time_index).cast(pa.int64())
    offsets = table.column(table.num_columns - 1)
    return FileInfo(
        path=relative,
        partition=partition,
        rows=table.num_rows,
        bytes=path.stat().st_size,
        min_offset=pa.compute.min(offsets).as_py(),
        max_offset=pa.compute.max(offsets).as_py(),
        min_time=pa.compute.min(times).as_py(),
        max_time=pa.compute.max(times).as_py(),
    )


BATCH_ROWS = 65_536  # rows of a batch read from a file (131,072 and 262,144 measured no faster)


def _joined(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` joined into batches of about ``rows``: dictionary-encoded columns come a
    row group at a time (each group has a dictionary of its own), and a reader's cost per
    batch falls as batches grow; the joined ones share one dictionary per column."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _one(pending)
            pending, count = [], 0
    if pending:
        yield _one(pending)


def _one(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).unify_dictionaries().combine_chunks().to_batches()[0]


def _text(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_string(dtype) or pa.types.is_binary(dtype))


class FileReader:
    """Reads single records from sealed files, caching footers and recent row groups."""

    def __init__(self, root: Path, capacity: int = 64) -> None:
        self.root = root
        self._files: OrderedDict[str, tuple[pq.ParquetFile, list[tuple[int, int]]]] = OrderedDict()
        self._groups: OrderedDict[tuple[str, int], Chunk] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def _file(self, relative: str) -> tuple[pq.ParquetFile, list[tuple[int, int]]]:
        entry = self._files.get(relative)
        if entry is None:
            handle = pq.ParquetFile(self.root / relative)
            meta = handle.metadata
            column = meta.num_columns - 1  # _offset
            ranges: list[tuple[int, int]] = []
            for i in range(meta.num_row_groups):
                stats = meta.row_group(i).column(column).statistics
                assert stats is not None and stats.has_min_max  # written with statistics
                ranges.append((int(stats.min), int(stats.max)))
            self._files[relative] = entry = (handle, ranges)
            while len(self._files) > self._capacity:
                self._files.popitem(last=False)
        self._files.move_to_end(relative)
        return entry

    def find(self, relative: str, offset: int) -> tuple[Chunk, int] | None:
        """The row group and row index of ``offset`` in the file, if it is there."""
        with self._lock:
            handle, ranges = self._file(relative)
            for i, (low, high) in enumerate(ranges):
                if not low <= offset <= high:
                    continue
                key = (relative, i)
                group = self._groups.get(key)
                if group is None:
                    table = handle.read_row_group(i).combine_chunks()
                    group = self._groups[key] = Chunk(table.to_batches()[0])
                    while len(self._groups) > self._capacity:
                        self._groups.popitem(last=False)
                self._groups.move_to_end(key)
                j = group.position(offset)
                if j is not None:
                    return group, j
            return None

    def forget(self, relative: str) -> None:
        """Drop cached state of a file that is about to be deleted."""
        with self._lock:
            self._files.pop(relative, None)
            for key in [k for k in self._groups if k[0] == relative]:
                del self._groups[key]


@dataclass(frozen=True, slots=True)
class ParquetPartition:
    """One sealed file: a :class:`~rillet.storage.partitions.Partition`.

    The catalog's numbers are copied into fields of its own, because a point read checks
    the offset range of every file it passes.  Point reads go through the stream's shared
    :class:`FileReader`, which caches footers and row groups; scans and takes open the file
    afresh, as they read much more than a footer.
    """

    path: str  # relative to the data folder, as the catalog has it
    parquet_path: str
    start: int
    end: int
    rows: int
    nbytes: int
    min_offset: int
    max_offset: int
    min_time: int
    max_time: int
    time_index: int
    reader: FileReader

    @classmethod
    def of(cls, info: FileInfo, reader: FileReader, end: int, time_index: int) -> ParquetPartition:
        """The file ``info`` names, its partition ending at ``end``."""
        return cls(
            info.path,
            str(reader.root / info.path),
            info.partition,
            end,
            info.rows,
            info.bytes,
            info.min_offset,
            info.max_offset,
            info.min_time,
            info.max_time,
            time_index,
            reader,
        )

    @property
    def info(self) -> FileInfo:
        """What the catalog knows of the file."""
        return FileInfo(
            self.path,
            self.start,
            self.rows,
            self.nbytes,
            self.min_offset,
            self.max_offset,
            self.min_time,
            self.max_time,
        )

    def find(self, offset: int) -> tuple[Any, ...] | None:
        found = self.reader.find(self.path, offset)
        return None if found is None else found[0].row(found[1])

    def scan(
        self, low: int | None = None, high: int | None = None, dictionaries: bool = False
    ) -> Iterator[pa.RecordBatch]:
        handle = pq.ParquetFile(self.parquet_path)
        text = [f.name for f in handle.schema_arrow if _text(f.type)] if dictionaries else []
        if text:  # as the file's dictionary pages hold it: no row's text spelt out
            handle = pq.ParquetFile(self.parquet_path, read_dictionary=text)
        whole = (low is None or low <= self.min_time) and (high is None or self.max_time < high)
        groups = None
        if not whole:
            meta = handle.metadata
            groups = []
            for i in range(meta.num_row_groups):
                # every column is one leaf (LIST too), so the time column's index is its leaf's
                stats = meta.row_group(i).column(self.time_index).statistics
                if (low is None or stats.max_raw >= low) and (high is None or stats.min_raw < high):
                    groups.append(i)
            if not groups:
                return
        batches = handle.iter_batches(row_groups=groups)
        for batch in _joined(batches, BATCH_ROWS) if text else batches:
            kept = batch if whole else in_time(batch, self.time_index, low, high)
            if len(kept):
                yield kept

    def take(self, offsets: np.ndarray) -> pa.Table | None:
        handle = pq.ParquetFile(self.parquet_path)
        meta = handle.metadata
        parts = []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(meta.num_columns - 1).statistics  # _offset
            lo, hi = np.searchsorted(offsets, [stats.min, stats.max + 1])
            if lo < hi:
                group = handle.read_row_group(i)
                have = group.column(group.num_columns - 1).to_numpy()
                wanted = offsets[lo:hi]
                positions = np.searchsorted(have, wanted)
                keep = have[np.minimum(positions, len(have) - 1)] == wanted
                parts.append(group.take(pa.array(positions[keep])))
        return pa.concat_tables(parts) if parts else None
