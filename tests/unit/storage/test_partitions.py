"""Partitions: a memory partition and a sealed file of the same records answer alike.

The records are one hour's, out of time order, their offsets with gaps between batches and
inside them; the file has row groups of 4 rows, so reads skip some.  Expected answers come
from the records as Python values, never from either implementation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.batches import decoded, rows_to_batch
from rillet.schema import OFFSET, Schema
from rillet.storage.memory import MemoryStore
from rillet.storage.parquet import FileReader, ParquetPartition, write_partition
from rillet.storage.partitions import (
    Partition,
    between_offsets,
    by_start,
    bytes_by_start,
    find_values,
    overlapping,
    take_offsets,
)
from rillet.time import Granularity
from tests.unit.support import HOUR_US, at, us

# the time column after a LIST column: a file's row groups are pruned by the right leaf
SCHEMA = Schema.build("tags LIST<STRING>, v INT, ts TIMESTAMP, s STRING", "ts")
START = us(at(0))


def _batches() -> tuple[list[pa.RecordBatch], dict[int, tuple[Any, ...]]]:
    """Three batches (offsets 100-111 less 103 and 104, 115-129, 140-147 less 145) and each
    record's values by offset."""
    batches, records = [], {}
    for first, count, dropped in ((100, 12, {103, 104}), (115, 15, set()), (140, 8, {145})):
        rows = []
        for offset in range(first, first + count):
            k = offset - 100
            when = at(0, (k * 7) % 60, k % 60)  # out of time order
            tags = None if k % 5 == 0 else [f"t{k}", "x"][: 1 + k % 2]
            v = None if k % 6 == 0 else k * 10
            s = None if k % 4 == 0 else f"r{k}"
            rows.append((tags, v, us(when) * 1000, s))
            if offset not in dropped:
                records[offset] = (tags, v, when, s)
        batch = rows_to_batch(SCHEMA, rows, first)
        offsets = batch.column(batch.num_columns - 1).to_pylist()
        batches.append(batch.filter(pa.array([o not in dropped for o in offsets])))
    return batches, records


BATCHES, RECORDS = _batches()
TIMES = {offset: us(values[2]) for offset, values in RECORDS.items()}


def memory_partition() -> Partition:
    store = MemoryStore(SCHEMA.time_index, Granularity.parse("1h"))
    for batch in BATCHES:
        store.add(batch)
    return store.partitions[START]


def parquet_partition(root: Path) -> ParquetPartition:
    relative = "streams/t/20240501T000000/00000000000000000100.parquet"
    info = write_partition(root, relative, BATCHES, START, SCHEMA.time_index, row_group_rows=4)
    return ParquetPartition.of(info, FileReader(root), START + HOUR_US, SCHEMA.time_index)


@pytest.fixture(params=["memory", "parquet"])
def partition(request: pytest.FixtureRequest, tmp_path: Path) -> Partition:
    return memory_partition() if request.param == "memory" else parquet_partition(tmp_path)


def offsets_of(batches: Iterator[pa.RecordBatch] | list[pa.Table]) -> list[int]:
    return [int(o) for b in batches for o in b.column(b.num_columns - 1).to_pylist()]


def test_bounds_and_counts(partition: Partition) -> None:
    assert (partition.start, partition.end) == (START, START + HOUR_US)
    assert (partition.min_offset, partition.max_offset) == (100, 147)
    assert (partition.min_time, partition.max_time) == (min(TIMES.values()), max(TIMES.values()))
    assert partition.rows == len(RECORDS) == 32
    assert partition.nbytes > 0


def test_only_a_file_is_read_by_path(partition: Partition, tmp_path: Path) -> None:
    if isinstance(partition, ParquetPartition):
        assert partition.parquet_path == str(tmp_path / partition.path)
        assert pq.read_table(partition.parquet_path).num_rows == 32
    else:
        assert partition.parquet_path is None


def test_find_gives_each_record_and_none_for_the_others(partition: Partition) -> None:
    for offset in range(95, 152):
        assert partition.find(offset) == RECORDS.get(offset), offset


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (None, None),
        (us(at(0, 10)), None),
        (None, us(at(0, 10))),
        (us(at(0, 14, 2)), us(at(0, 42, 6))),  # both ends are record times: low in, high out
        (us(at(0, 30)), us(at(0, 30))),  # empty
        (us(at(1)), None),  # past the partition
        (None, us(at(0))),  # before it
    ],
)
@pytest.mark.parametrize("dictionaries", [False, True])
def test_scan_gives_the_records_in_the_time_range_in_offset_order(
    partition: Partition, low: int | None, high: int | None, dictionaries: bool
) -> None:
    read = list(partition.scan(low, high, dictionaries))
    assert all(len(b) for b in read)
    if dictionaries and isinstance(partition, ParquetPartition) and read:
        # text as the file holds it, the row groups of 4 joined under one dictionary
        assert pa.types.is_dictionary(read[0].schema.field("s").type)
        assert max(len(b) for b in read) > 4
    batches = [decoded(b) for b in read]
    want = [
        o
        for o, t in sorted(TIMES.items())
        if (low is None or t >= low) and (high is None or t < high)
    ]
    assert offsets_of(batches) == want
    assert [tuple(r.values())[:-1] for b in batches for r in b.to_pylist()] == [
        RECORDS[o] for o in want
    ]


@pytest.mark.parametrize(
    "wanted",
    [
        list(range(100, 148)),
        [],
        [50, 99, 148, 500],  # outside
        [103, 104, 112, 145],  # gaps
        [100, 101, 102, 105, 106],  # across a row group
        [99, 100, 129, 130, 140, 147, 148],
    ],
)
def test_take_gives_the_records_held_at_the_offsets(
    partition: Partition, wanted: list[int]
) -> None:
    table = partition.take(np.array(wanted, dtype=np.int64))
    want = [o for o in wanted if o in RECORDS]
    if not want:
        assert table is None or table.num_rows == 0
        return
    assert table is not None
    assert offsets_of([table]) == want
    assert [tuple(r.values())[:-1] for r in table.to_pylist()] == [RECORDS[o] for o in want]


def test_the_two_answer_alike(tmp_path: Path) -> None:
    memory, parquet = memory_partition(), parquet_partition(tmp_path)
    for offset in range(98, 150):
        assert memory.find(offset) == parquet.find(offset)
    for low, high in ((None, None), (us(at(0, 20)), us(at(0, 50)))):
        a = pa.Table.from_batches(list(memory.scan(low, high)))
        b = pa.Table.from_batches(list(parquet.scan(low, high)))
        assert a.equals(b)
    wanted = np.arange(90, 150, 3, dtype=np.int64)
    a_taken, b_taken = memory.take(wanted), parquet.take(wanted)
    assert a_taken is not None and b_taken is not None
    assert a_taken.equals(b_taken)


def test_a_file_reads_only_the_row_groups_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parquet = parquet_partition(tmp_path)
    groups = pq.ParquetFile(parquet.parquet_path).metadata.num_row_groups
    assert groups == 8  # 32 records, 4 a group: the 2nd holds 106-109, the 7th 129 and 140-142
    read: list[int] = []
    taker = pq.ParquetFile.read_row_group
    scanner = pq.ParquetFile.iter_batches

    def read_row_group(self: pq.ParquetFile, i: int, **kwargs: Any) -> pa.Table:
        read.append(i)
        return taker(self, i, **kwargs)

    def iter_batches(self: pq.ParquetFile, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        read.extend(kwargs.get("row_groups") or range(groups))
        return scanner(self, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_row_group)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", iter_batches)
    parquet.take(np.array([106, 107, 140], dtype=np.int64))
    assert read == [1, 6]
    read.clear()
    # only offset 100 has its time in the first minute, and only group 0 may hold it
    assert offsets_of(parquet.scan(us(at(0)), us(at(0, 1)))) == [100]
    assert read == [0]


def test_loops_over_a_file_and_memory_answer_as_one(tmp_path: Path) -> None:
    # the records of offsets below 120 sealed, the rest in memory, as a stream keeps them
    root = tmp_path
    sealed = [b.filter(pa.array(np.array(offsets_of([b])) < 120)) for b in BATCHES[:2]]
    live = [b.filter(pa.array(np.array(offsets_of([b])) >= 120)) for b in BATCHES[1:]]
    info = write_partition(root, "a.parquet", sealed, START, SCHEMA.time_index, 4)
    file = ParquetPartition.of(info, FileReader(root), START + HOUR_US, SCHEMA.time_index)
    store = MemoryStore(SCHEMA.time_index, Granularity.parse("1h"))
    for batch in live:
        store.add(batch)
    memory = store.partitions[START]
    parts: list[Partition] = [file, memory]

    assert [find_values(parts, o) for o in range(98, 150)] == [
        RECORDS.get(o) for o in range(98, 150)
    ]
    assert offsets_of(between_offsets(parts, 0, 2**63 - 1)) == sorted(RECORDS)
    assert offsets_of(between_offsets(parts, 110, 141)) == [o for o in RECORDS if 110 <= o < 141]
    wanted = np.array([101, 119, 120, 121, 147, 148], dtype=np.int64)
    taken = take_offsets(parts, wanted, SCHEMA.storage)
    assert offsets_of([taken]) == [101, 119, 120, 121, 147]
    none = take_offsets(parts, np.array([1, 2], dtype=np.int64), SCHEMA.storage)
    assert none.num_rows == 0 and none.schema.equals(SCHEMA.storage)
    assert by_start(parts) == [(START, [file, memory])]
    assert bytes_by_start(parts) == {START: file.nbytes + memory.nbytes}
    assert overlapping(parts, us(at(1)), None) == []
    assert overlapping(parts, None, None) == parts


def test_a_memory_partition_is_a_value(tmp_path: Path) -> None:
    """Records arriving after a reader took the partition are not in what it reads."""
    store = MemoryStore(SCHEMA.time_index, Granularity.parse("1h"))
    store.add(BATCHES[0])
    taken = store.partitions[START]
    store.add(BATCHES[1])
    assert (taken.rows, taken.max_offset) == (10, 111)
    assert offsets_of(taken.scan()) == [o for o in RECORDS if o < 112]
    assert taken.find(120) is None
    assert store.partitions[START].find(120) == RECORDS[120]


def test_times_are_read_as_utc_datetimes(partition: Partition) -> None:
    values = partition.find(100)
    assert values is not None
    assert values[2] == at(0) and values[2].utcoffset() == dt.timedelta(0)


class _Listed:
    """A partition of given batches (offsets only), as between_offsets reads one."""

    def __init__(self, batches: list[pa.RecordBatch]) -> None:
        offsets = [o for b in batches for o in b.column(0).to_pylist()]
        self.batches, self.min_offset, self.max_offset = batches, min(offsets), max(offsets)

    def scan(self, dictionaries: bool = False) -> list[pa.RecordBatch]:
        return self.batches


@settings(max_examples=200, deadline=None)
@given(
    places=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    cuts=st.lists(st.integers(1, 7), min_size=1, max_size=20),
    low=st.integers(0, 70),
    span=st.integers(0, 70),
)
def test_stored_records_come_in_offset_order_however_partitions_overlap(
    places: list[int], cuts: list[int], low: int, span: int
) -> None:
    """Offsets 0.. put in partitions at random (records out of time order), each cut into
    batches at random: the read gives exactly the offsets in [low, high), ascending, and
    gives a partition's batch as it is where no other partition's offsets fall among its
    own (an in-order stream is not copied)."""
    owned: dict[int, list[int]] = {}
    for offset, place in enumerate(places):
        owned.setdefault(place, []).append(offset)
    parts = []
    for offsets in owned.values():
        sizes = iter(cuts * len(offsets))
        pieces, at = [], 0
        while at < len(offsets):
            size = next(sizes)
            pieces.append(pa.record_batch({OFFSET: pa.array(offsets[at : at + size], pa.int64())}))
            at += size
        parts.append(_Listed(pieces))
    high = low + span
    out = list(between_offsets(cast(list[Partition], parts), low, high))
    got = [o for b in out for o in b.column(0).to_pylist()]
    assert got == [o for o in range(len(places)) if low <= o < high]
    if len(owned) == 1 and low == 0 and high >= len(places):
        assert out == parts[0].batches  # one partition: its batches, not copies
