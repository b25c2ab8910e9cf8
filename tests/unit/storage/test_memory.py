"""Memory partitions: rows placed by time, found by offset, sealed and dropped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from rillet.batches import rows_to_batch
from rillet.schema import Schema
from rillet.storage.chunk import Chunk
from rillet.storage.memory import MANY_BATCHES, MemoryStore
from rillet.time import Granularity
from tests.unit.support import HOUR_US, at, us

SCHEMA = Schema.build("ts TIMESTAMP, v INT, s STRING", "ts")


def batch(rows: list[tuple[dt.datetime, int, str]], first: int) -> pa.RecordBatch:
    return rows_to_batch(SCHEMA, [(us(t) * 1000, v, s) for t, v, s in rows], first)


def offsets_of(b: pa.RecordBatch) -> list[int]:
    return [int(x) for x in b.column(b.num_columns - 1).to_pylist()]


def row_of(found: tuple[Chunk, int] | None) -> tuple[Any, ...] | None:
    """The row found, read through Arrow (independently of Chunk.row, which must agree)."""
    if found is None:
        return None
    chunk, i = found
    b = chunk.batch
    values = tuple(b.column(j)[i].as_py() for j in range(b.num_columns))
    assert chunk.row(i) == values[:-1]
    return values


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(SCHEMA.time_index, Granularity.parse("1h"))


ROWS = [
    (at(2, 5), 0, "a"),
    (at(0, 59, 59, 999999), 1, "b"),
    (at(2, 0), 2, "c"),
    (at(1, 0), 3, "d"),
    (at(0, 0), 4, "e"),
    (at(3, 30), 5, "f"),
]


def test_add_places_each_row_in_the_partition_of_its_time(store: MemoryStore) -> None:
    newest = store.add(batch(ROWS, 10))
    assert newest == us(at(3, 30))
    assert sorted(store.partitions) == [us(at(h)) for h in range(4)]
    placed = {
        start: [o for b in p.batches for o in offsets_of(b)]
        for start, p in store.partitions.items()
    }
    assert placed == {
        us(at(0)): [11, 14],
        us(at(1)): [13],
        us(at(2)): [10, 12],
        us(at(3)): [15],
    }
    first = store.partitions[us(at(0))]
    assert (first.start, first.end) == (us(at(0)), us(at(0)) + HOUR_US)
    assert (first.rows, first.min_time, first.max_time) == (2, us(at(0)), us(at(0, 59, 59, 999999)))
    assert first.firsts == [11]
    assert store.rows == 6
    assert store.nbytes == sum(p.nbytes for p in store.partitions.values()) > 0
    assert store.low_water() == 10
    # batches() walks partitions in time order, each in offset order
    assert [o for b in store.batches() for o in offsets_of(b)] == [11, 14, 13, 10, 12, 15]


def test_add_returns_the_newest_time_placed(store: MemoryStore) -> None:
    assert store.add(batch([(at(5), 0, "x")], 0)) == us(at(5))
    assert store.add(batch([(at(1), 1, "y")], 1)) == us(at(1))
    assert store.add(batch([(at(5, 30), 2, "z"), (at(1, 10), 3, "w")], 2)) == us(at(5, 30))


def test_find_returns_the_row_of_an_offset(store: MemoryStore) -> None:
    store.add(batch(ROWS, 10))
    store.add(batch([(at(0, 30), 6, "g"), (at(9), 7, "h")], 16))
    for offset in range(10, 18):
        i = offset - 10
        t, v, s = ROWS[i] if i < 6 else [(at(0, 30), 6, "g"), (at(9), 7, "h")][i - 6]
        assert row_of(store.find(offset)) == (t, v, s, offset)
    for missing in (-1, 0, 9, 18, 10**9):
        assert store.find(missing) is None


def test_replay_skips_rows_already_sealed_or_dropped(store: MemoryStore) -> None:
    # partition 0 is sealed through offset 11, partition 2 through 9 (nothing of this batch)
    store.add(batch(ROWS, 10), skip_through={us(at(0)): 11, us(at(2)): 9, us(at(3)): 15})
    placed = {
        start: [o for b in p.batches for o in offsets_of(b)]
        for start, p in store.partitions.items()
    }
    assert placed == {us(at(0)): [14], us(at(1)): [13], us(at(2)): [10, 12]}
    assert store.rows == 4
    assert store.find(11) is None
    assert store.find(15) is None


def test_remove_sealed_keeps_what_arrived_after_freezing(store: MemoryStore) -> None:
    store.add(batch([(at(0, 1), 0, "a"), (at(0, 2), 1, "b")], 0))
    partition = store.partitions[us(at(0))]
    frozen = partition.freeze()
    store.add(batch([(at(0, 3), 2, "c")], 2))  # arrives while the frozen part is being written
    store.add(batch([(at(1, 0), 3, "d")], 3))
    store.remove_sealed(us(at(0)), frozen)
    rest = store.partitions[us(at(0))]
    assert [o for b in rest.batches for o in offsets_of(b)] == [2]
    assert (rest.rows, rest.firsts) == (1, [2])
    assert store.find(0) is None
    assert row_of(store.find(2)) == (at(0, 3), 2, "c", 2)
    assert store.low_water() == 2
    # sealing the rest empties the partition: it goes
    store.remove_sealed(us(at(0)), rest.freeze())
    assert sorted(store.partitions) == [us(at(1))]
    store.remove_sealed(us(at(7)), [])  # an unknown partition is no error
    assert store.rows == 1


def test_drop_removes_a_whole_partition(store: MemoryStore) -> None:
    store.add(batch(ROWS, 10))
    store.drop(us(at(2)))
    assert sorted(store.partitions) == [us(at(0)), us(at(1)), us(at(3))]
    assert (store.rows, store.low_water()) == (4, 11)
    assert store.find(10) is None and store.find(12) is None
    store.drop(us(at(8)))
    for start in (us(at(0)), us(at(1)), us(at(3))):
        store.drop(start)
    assert (store.rows, store.low_water(), store.batches()) == (0, None, [])


def test_many_small_batches_are_merged_and_stay_findable(store: MemoryStore) -> None:
    n = 3 * MANY_BATCHES
    for i in range(n):
        store.add(batch([(at(0, 0, i), i, str(i))], i))
    partition = store.partitions[us(at(0))]
    assert len(partition.batches) < MANY_BATCHES
    assert partition.rows == n
    assert [o for b in partition.batches for o in offsets_of(b)] == list(range(n))
    assert partition.firsts == [offsets_of(b)[0] for b in partition.batches]
    for i in range(n):
        assert row_of(store.find(i)) == (at(0, 0, i), i, str(i), i)


def test_frozen_batches_are_not_merged(store: MemoryStore) -> None:
    for i in range(10):
        store.add(batch([(at(0, 0, i), i, "x")], i))
    partition = store.partitions[us(at(0))]
    frozen = partition.freeze()
    for i in range(10, 10 + 2 * MANY_BATCHES):
        store.add(batch([(at(0, 0, i), i, "x")], i))
    now = store.partitions[us(at(0))]
    assert all(a is b for a, b in zip(now.batches[:10], frozen, strict=False))
    assert [o for b in now.batches for o in offsets_of(b)] == list(range(10 + 2 * MANY_BATCHES))
    store.remove_sealed(us(at(0)), frozen)
    assert [o for b in store.batches() for o in offsets_of(b)] == list(
        range(10, 10 + 2 * MANY_BATCHES)
    )


def test_monthly_partitions_follow_the_calendar() -> None:
    store = MemoryStore(SCHEMA.time_index, Granularity.parse("monthly"))
    feb = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    rows = [
        (dt.datetime(2024, 2, 29, 23, 59, tzinfo=dt.UTC), 0, "a"),
        (dt.datetime(2024, 3, 1, tzinfo=dt.UTC), 1, "b"),
        (feb, 2, "c"),
    ]
    store.add(batch(rows, 0))
    assert sorted(store.partitions) == [us(feb), us(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))]
    p = store.partitions[us(feb)]
    assert p.end == us(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert [o for b in p.batches for o in offsets_of(b)] == [0, 2]
