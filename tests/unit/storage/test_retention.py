"""Retention: the pure decision (partitions_to_drop) and streams dropping whole partitions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import rillet
from rillet import errors
from rillet.storage.retention import partitions_to_drop
from tests.unit.support import MANUAL, at, catalog_files, count, parquet_files, us, wait_until

# -- partitions_to_drop, hand-worked -----------------------------------------------------------

SIZES = {0: 4, 10: 3, 20: 2, 30: 1}
ENDS = {0: 10, 10: 20, 20: 30, 30: 40}


@pytest.mark.parametrize(
    ("watermark", "max_age", "max_bytes", "drop"),
    [
        # by age: partitions that ended at least max_age before the watermark
        (35, 20, None, [0]),  # ends <= 15
        (39, 20, None, [0]),  # ends <= 19
        (40, 20, None, [0, 10]),  # end 20 <= 20: exactly max_age old goes
        (49, 20, None, [0, 10]),
        (50, 20, None, [0, 10, 20]),
        (29, 20, None, []),  # ends <= 9: none
        (100, 1, None, [0, 10, 20, 30]),  # age alone may drop every partition
        # by size: the oldest, until the rest fit
        (0, None, 10, []),  # 10 bytes fit in 10
        (0, None, 9, [0]),  # 6 left
        (0, None, 6, [0]),
        (0, None, 5, [0, 10]),  # 3 left
        (0, None, 3, [0, 10]),
        (0, None, 2, [0, 10, 20]),  # 1 left
        (0, None, 1, [0, 10, 20]),
        (0, None, 0, [0, 10, 20]),  # the newest is never dropped for size
        # both: age first, then size over what age kept
        (35, 20, 3, [0, 10]),  # age drops 0; 3+2+1 = 6 > 3 drops 10; 3 fits
        (35, 20, 6, [0]),  # age drops 0; the rest fit
        (45, 20, 1, [0, 10, 20]),  # age drops 0 and 10; then 20 for size; the newest stays
        (100, 1, 1, [0, 10, 20, 30]),
    ],
)
def test_partitions_to_drop_by_age_and_size(
    watermark: int, max_age: int | None, max_bytes: int | None, drop: list[int]
) -> None:
    assert partitions_to_drop(SIZES, ENDS, watermark, max_age, max_bytes) == drop


def test_partitions_to_drop_documented_examples() -> None:
    sizes, ends = {0: 5, 10: 5, 20: 5}, {0: 10, 10: 20, 20: 30}
    assert partitions_to_drop(sizes, ends, 25, None, 10) == [0]
    assert partitions_to_drop(sizes, ends, 25, 10, None) == [0]


def test_partitions_to_drop_orders_oldest_first_whatever_the_input_order() -> None:
    sizes = {30: 1, -10: 7, 10: 3, 0: 4}  # a partition before 1970, keys unordered
    ends = {30: 40, -10: 0, 10: 20, 0: 10}
    assert partitions_to_drop(sizes, ends, 31, 20, None) == [-10, 0]
    assert partitions_to_drop(sizes, ends, 0, None, 4) == [-10, 0]  # 7 + 4 gone, 4 left
    assert partitions_to_drop(sizes, ends, 0, None, 3) == [-10, 0, 10]


def test_partitions_to_drop_with_nothing_to_do() -> None:
    assert partitions_to_drop({}, {}, 100, 1, 1) == []
    assert partitions_to_drop(SIZES, ENDS, 10**9, None, None) == []
    assert partitions_to_drop({0: 10**9}, {0: 10}, 10, None, 1) == []  # the only one is newest


# -- streams -----------------------------------------------------------------------------------


def _folders(folder: Path) -> dict[str, int]:
    """Sealed files per partition folder."""
    found: dict[str, int] = {}
    for path in parquet_files(folder):
        found[path.parent.name] = found.get(path.parent.name, 0) + 1
    return found


def test_retention_by_age_drops_whole_old_partitions(db: rillet.Database, folder: Path) -> None:
    s = db.create_stream(
        "t", "ts TIMESTAMP, v INT", time_column="ts", partition="1h", retention="2h"
    )
    # two records an hour, hours 0-3: offsets 2h and 2h+1 are in hour h
    assert s.append_many([(at(h, m), 10 * h + m // 50) for h in range(4) for m in (10, 50)]) == 0
    assert s.seal() == 3  # event time 03:50 closed hours 0-2; hour 3 stays in memory
    assert _folders(folder) == {"20240501T000000": 1, "20240501T010000": 1, "20240501T020000": 1}
    assert s.apply_retention() == [us(at(0))]  # 03:50 - 2h = 01:50: hour 0 ended before

    assert _folders(folder) == {"20240501T010000": 1, "20240501T020000": 1}
    assert [row[1] for row in catalog_files(folder)] == [us(at(1)), us(at(2))]
    assert len(s) == 6
    assert count(db, "t") == 6
    for offset in (0, 1):
        with pytest.raises(errors.NotFoundError, match=f"no record at offset {offset}"):
            s.read(offset)
    assert [r.offset for r in s.read(0, 8)] == [2, 3, 4, 5, 6, 7]
    assert [r.offset for r in s.scan()] == [2, 3, 4, 5, 6, 7]
    assert db.sql("SELECT min(ts), max(ts) FROM t").fetchall() == [(at(1, 10), at(3, 50))]
    assert s.apply_retention() == []  # nothing more is old enough

    # event time moves on: hour 1 goes too; offsets are never reused
    assert s.append_many([(at(4, 30), 99)]) == 8
    assert s.apply_retention() == [us(at(1))]
    assert _folders(folder) == {"20240501T020000": 1}
    assert [r.offset for r in s.scan()] == [4, 5, 6, 7, 8]
    # a late record for a dropped partition lands in memory, and goes at the next round
    assert s.append_many([(at(0, 20), -1)]) == 9
    assert s.read(9)["v"] == -1
    assert len(s) == 6
    assert s.apply_retention() == [us(at(0))]
    with pytest.raises(errors.NotFoundError):
        s.read(9)
    assert (len(s), s.next_offset) == (5, 10)
    assert db.sql("SELECT v FROM t ORDER BY ts").fetchall() == [(20,), (21,), (30,), (31,), (99,)]


def test_dropped_partitions_stay_dropped_after_reopening(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", retention="2h")
        s.append_many([(at(h, 30), h) for h in range(5)])
        s.seal()
        assert s.apply_retention() == [us(at(0)), us(at(1))]
        # a dropped partition still in memory (never sealed): its rows must not come back
        s.append_many([(at(0, 45), 100)])
        assert s.apply_retention() == [us(at(0))]
        assert (len(s), s.next_offset) == (3, 6)
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("t")
        assert (len(s), s.next_offset) == (3, 6)
        assert [(r.offset, r["v"]) for r in s.scan()] == [(2, 2), (3, 3), (4, 4)]
        for offset in (0, 1, 5):
            with pytest.raises(errors.NotFoundError):
                s.read(offset)
        assert count(db, "t") == 3
        assert s.append((at(5), 5)) == 6


def _sealed_sizes(db: rillet.Database, folder: Path, name: str, max_bytes: int | None) -> list[int]:
    """Four hourly partitions of three rows, sealed; the file size of each, oldest first."""
    s = db.create_stream(
        name, "ts TIMESTAMP, v INT, s STRING", time_column="ts", max_bytes=max_bytes
    )
    s.append_many([(at(h, 10 * i), 3 * h + i, f"row {h}.{i}") for h in range(4) for i in range(3)])
    assert s.seal(everything=True) == 4
    files = parquet_files(folder / "streams" / name)
    assert len(files) == 4
    return [p.stat().st_size for p in files]


@pytest.mark.parametrize(
    ("keep", "drop"),
    [
        (lambda z: z[0] + z[1] + z[2] + z[3], 0),  # fits exactly
        (lambda z: z[1] + z[2] + z[3], 1),
        (lambda z: z[1] + z[2] + z[3] - 1, 2),
        (lambda z: z[2] + z[3], 2),
        (lambda z: z[3], 3),
        (lambda z: 1, 3),  # the newest partition is never dropped for size
    ],
)
def test_retention_by_size_drops_the_oldest_partitions_until_the_stream_fits(
    db: rillet.Database, folder: Path, keep: Callable[[list[int]], int], drop: int
) -> None:
    sizes = _sealed_sizes(db, folder, "measure", None)
    limit = keep(sizes)
    s_sizes = _sealed_sizes(db, folder, "t", limit)
    assert s_sizes == sizes  # the same rows make the same files
    s = db.stream("t")
    assert s.apply_retention() == [us(at(h)) for h in range(drop)]
    assert len(s) == 12 - 3 * drop
    assert [r.offset for r in s.scan()] == list(range(3 * drop, 12))
    assert sum(p.stat().st_size for p in parquet_files(folder / "streams" / "t")) == sum(
        sizes[drop:]
    )
    assert s.apply_retention() == []
    assert s.append((at(3, 59), 12, "new")) == 12


def test_retention_in_memory_needs_no_files() -> None:
    with rillet.connect(**MANUAL) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", retention="1h")
        s.append_many([(at(0, 30), 0), (at(1, 30), 1), (at(2, 30), 2)])
        assert s.apply_retention() == [us(at(0))]  # 02:30 - 1h = 01:30
        assert (len(s), s.next_offset) == (2, 3)
        assert db.sql("SELECT v FROM t ORDER BY v").fetchall() == [(1,), (2,)]
        with pytest.raises(errors.NotFoundError):
            s.read(0)


def test_a_stream_without_retention_keeps_everything(db: rillet.Database) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
    s.append_many([(at(0), 0), ("2030-01-01T00:00:00Z", 1)])
    s.seal(everything=True)
    assert s.apply_retention() == []
    assert len(s) == 2


def test_the_background_maintainer_applies_retention(folder: Path) -> None:
    with rillet.connect(folder, maintenance_interval=0.05) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", retention="1h")
        s.append_many(pa.table({"ts": [at(0, 30), at(1, 30)], "v": [0, 1]}))
        s.append((at(3), 2))
        # hours 0 and 1 are sealed (or not yet), then dropped and their files deleted
        assert wait_until(lambda: len(s) == 1 and parquet_files(folder) == [])
        assert [r.offset for r in s.scan()] == [2]
        assert s.next_offset == 3


def test_a_dropped_record_is_gone_even_if_it_was_appended_recently() -> None:
    with rillet.connect(commit_interval=3600, **MANUAL) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", retention="2h")
        s.append((at(0, 30), 0))
        s.flush()
        s.append((at(5, 30), 1))
        s.flush()
        assert s.apply_retention() == [us(at(0))]
        assert len(s) == 1
        assert count(db, "t") == 1
        assert [r.offset for r in s.read(0, 2)] == [1]
        with pytest.raises(errors.NotFoundError):
            s.read(0)
