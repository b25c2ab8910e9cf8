"""Ad-hoc filters (execute_filter) with and without indexes, and their planning.

Whatever the plan (index candidates, a scan pruned by time and by Parquet row-group
statistics, or a plain scan), the predicate decides every record, so the answer is DuckDB's
WHERE over the same rows; the tests also show that the index and the statistics do narrow
what is read.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

import rillet
from rillet.monitors import plan
from rillet.monitors.filter import predicate
from tests.unit.monitors.support import SCHEMA, Reference, make_rows, table
from tests.unit.support import DAY, MANUAL, parquet_files

D = dt.timedelta
#: (rtsql predicate, the same in DuckDB SQL)
PREDICATES = [
    ("lat = 42.5", "lat = 42.5"),
    ("lat < 10", "lat < 10"),
    ("lat >= 90", "lat >= 90"),
    ("lat <= 3.5", "lat <= 3.5"),
    ("10 > lat", "10 > lat"),
    ("lat != 50", "lat <> 50"),
    ("lat > 50 AND host = 'b'", "lat > 50 AND host = 'b'"),
    ("host = 'c' OR code = 3", "host = 'c' OR code = 3"),
    ("code >= 7 && lat <= 20.0", "code >= 7 AND lat <= 20.0"),
    ("host = 'a'", "host = 'a'"),
    ("'a' = host", "'a' = host"),
    ("host != 'a'", "host <> 'a'"),
    ("host = 'zzz'", "host = 'zzz'"),
    ("host < 'b'", "host < 'b'"),
    ("lat IS NULL", "lat IS NULL"),
    ("host IS NULL OR code IS NULL", "host IS NULL OR code IS NULL"),
    ("lat > 50 || ok", "lat > 50 OR ok"),
    ("ok AND code < 2", "ok AND code < 2"),
    ("ok = FALSE", "ok = FALSE"),
    ("NOT (lat > 50)", "NOT (lat > 50)"),
    ("lat * 2 > 150", "lat * 2 > 150"),
    ("code = NULL", "code = NULL"),
    ("code = 2.5", "code = 2.5"),
    ("code < 2.5 AND code > -1", "code < 2.5 AND code > -1"),
    ("(lat >= 20 AND lat < 21) OR (lat >= 70.5 AND lat < 70.7)", "(lat >= 20 AND lat < 21) OR "
     "(lat >= 70.5 AND lat < 70.7)"),
    ("host LIKE 'a%' AND lat > 95", "host LIKE 'a%' AND lat > 95"),
]  # fmt: skip
#: indexes to try: none, each column alone, several bucket sizes, all together
INDEXES: list[list[tuple[str, float]]] = [
    [],
    [("lat", 1.0)],
    [("lat", 7.5)],
    [("lat", 0.25)],
    [("code", 1.0)],
    [("host", 1.0)],
    [("ok", 1.0)],
    [("lat", 1.0), ("host", 1.0), ("code", 2.0), ("ok", 1.0)],
]


@pytest.fixture
def folder_db(folder: Path) -> Iterator[rillet.Database]:
    with rillet.connect(folder, row_group_rows=200, **MANUAL) as database:
        yield database


@pytest.fixture
def rows() -> list[tuple[Any, ...]]:
    return make_rows(1, 3000, tenths=True)


@pytest.fixture
def ref(rows: list[tuple[Any, ...]]) -> Iterator[Reference]:
    reference = Reference(table(rows))
    yield reference
    reference.close()


def add_indexes(s: rillet.Stream, indexes: Sequence[tuple[str, float]], backfill: bool) -> None:
    for column, size in indexes:
        s.add_index(column, bucket_size=size, backfill=backfill)


@pytest.mark.parametrize("indexes", INDEXES, ids=lambda ix: "+".join(c for c, _ in ix) or "none")
def test_execute_filter_equals_duckdb(
    mem: rillet.Database, rows: list[tuple[Any, ...]], ref: Reference, indexes: list[Any]
) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    add_indexes(s, indexes, backfill=False)  # defined on the empty stream: it covers all
    for chunk in range(0, len(rows), 600):
        s.append_many(rows[chunk : chunk + 600])
    for expression, where in PREDICATES:
        assert s.execute_filter(expression).offsets.tolist() == ref.offsets(where), expression


def test_indexes_added_with_backfill_over_sealed_data(
    folder_db: rillet.Database, rows: list[tuple[Any, ...]], ref: Reference
) -> None:
    s = folder_db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
    s.append_many(rows[:2000])
    assert s.seal(everything=True) == 2
    add_indexes(s, INDEXES[-1], backfill=True)
    s.append_many(rows[2000:])
    for expression, where in PREDICATES:
        assert s.execute_filter(expression).offsets.tolist() == ref.offsets(where), expression


def test_index_added_to_a_stream_with_data_is_not_trusted_for_older_records(
    mem: rillet.Database, rows: list[tuple[Any, ...]], ref: Reference
) -> None:
    """Without backfill an index knows only newer records, so execute_filter scans."""
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.append_many(rows[:1500])
    add_indexes(s, INDEXES[-1], backfill=False)
    s.append_many(rows[1500:])
    s.monitors.caught_up()  # the worker has indexed what was appended
    node = predicate("lat >= 90", s.monitors.columns)
    found = plan.candidates(node, s.monitors.indexes)
    assert found is not None and 0 < len(found)
    assert set(found.tolist()) <= set(range(1500, 3000))
    for expression, where in PREDICATES:
        assert s.execute_filter(expression).offsets.tolist() == ref.offsets(where), expression


def test_index_narrows_the_candidates(
    mem: rillet.Database, rows: list[tuple[Any, ...]], ref: Reference
) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    add_indexes(s, [("lat", 1.0), ("host", 1.0), ("code", 1.0)], backfill=False)
    s.append_many(rows)
    s.monitors.caught_up()

    def candidates(expression: str) -> list[int] | None:
        found = plan.candidates(predicate(expression, s.monitors.columns), s.monitors.indexes)
        return None if found is None else found.tolist()

    # lat >= 90: buckets 90 .. 99 hold exactly the matches (one decimal, bucket size 1)
    assert candidates("lat >= 90") == ref.offsets("lat >= 90")
    # lat > 90.05: the bucket of 90 holds 90.0 too; the values kept beside the offsets drop it
    assert candidates("lat > 90.05") == ref.offsets("lat > 90.05")
    assert set(ref.offsets("lat > 90.05")) < set(ref.offsets("lat >= 90"))
    assert plan.exact(
        predicate("lat > 90.05 OR host = 'c'", s.monitors.columns), s.monitors.indexes
    )
    # a string index holds exactly the records of a value
    assert candidates("host = 'c'") == ref.offsets("host = 'c'")
    # AND intersects, OR unites
    assert candidates("host = 'c' AND code = 3") == ref.offsets("host = 'c' AND code = 3")
    assert candidates("host = 'c' OR code = 3") == ref.offsets("host = 'c' OR code = 3")
    # one side without an index: AND keeps the other side, OR cannot narrow
    assert candidates("lat < 0.5 AND ok") == ref.offsets("lat < 0.5")
    assert not plan.exact(predicate("lat < 0.5 AND ok", s.monitors.columns), s.monitors.indexes)
    assert candidates("lat < 0.5 OR ok") is None
    # what an index cannot answer
    for expression in ("lat != 5", "host < 'b'", "lat * 2 > 3", "NOT (lat > 5)", "ok"):
        assert candidates(expression) is None, expression
    # NULL never matches a comparison
    assert candidates("code = NULL") == []
    assert s.execute_filter("host = 'c' AND code = 3").offsets.tolist() == ref.offsets(
        "host = 'c' AND code = 3"
    )


def sorted_rows(n: int) -> list[tuple[Any, ...]]:
    """Records whose lat grows with their offset (and time): each sealed row group holds a
    narrow band of lat, so a condition on lat rules most row groups out by statistics."""
    rng = random.Random(2)
    rows = sorted(make_rows(2, n, tenths=True), key=lambda r: r[0])
    return [
        (r[0], r[1], round(i / (n / 100) + rng.random() / 100, 3), r[3], r[4])
        for i, r in enumerate(rows)
    ]


def test_execute_filter_over_sealed_row_groups_equals_duckdb(folder_db: rillet.Database) -> None:
    """No index: the predicate is evaluated over the sealed files (20+ row groups) and over
    the records in memory."""
    rows = sorted_rows(4000)
    ref = Reference(table(rows))
    try:
        s = folder_db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
        s.append_many(rows[:3500])
        assert s.seal(everything=True) == 2
        s.append_many(rows[3500:])
        files = parquet_files(folder_db.path or Path())
        assert sum(pq.ParquetFile(f).metadata.num_row_groups for f in files) >= 17
        for expression, where in PREDICATES:
            assert s.execute_filter(expression).offsets.tolist() == ref.offsets(where), expression
            low, high = DAY + D(minutes=50), DAY + D(hours=1, minutes=10, seconds=0.5)
            got = s.execute_filter(expression, low, high).offsets.tolist()
            assert got == ref.offsets(where, low, high), expression
    finally:
        ref.close()


def test_row_group_statistics_skip_sealed_row_groups(folder_db: rillet.Database) -> None:
    rows = sorted_rows(4000)
    ref = Reference(table(rows))
    try:
        s = folder_db.create_stream("m", SCHEMA, time_column="ts", partition="1d")
        s.append_many(rows)
        assert s.seal(everything=True) == 1
        (path,) = parquet_files(folder_db.path or Path())
        meta = pq.ParquetFile(path).metadata
        lat = meta.schema.names.index("lat")
        skipped = 0
        data = bytearray(path.read_bytes())
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            stats = group.column(lat).statistics
            if stats.max >= 90:  # this row group may hold a match: leave it whole
                continue
            skipped += 1
            for c in range(group.num_columns):  # the pages; the footer stays readable
                chunk = group.column(c)
                first = chunk.dictionary_page_offset or chunk.data_page_offset
                data[first + 8 : first + chunk.total_compressed_size] = b"\xab" * (
                    chunk.total_compressed_size - 8
                )
        path.write_bytes(bytes(data))
        assert meta.num_row_groups >= 20 and skipped >= meta.num_row_groups - 3
        # what statistics pruning does: DuckDB's own filter never touches the damaged pages
        con = duckdb.connect(":memory:")
        try:
            count = con.sql(f"SELECT count(*) FROM read_parquet('{path}') WHERE lat >= 90")
            assert count.fetchall() == [(len(ref.offsets("lat >= 90")),)]
        finally:
            con.close()
        assert s.execute_filter("lat >= 90").offsets.tolist() == ref.offsets("lat >= 90")
    finally:
        ref.close()


def test_time_ranged_execute_filter(
    folder_db: rillet.Database, rows: list[tuple[Any, ...]], ref: Reference
) -> None:
    s = folder_db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
    add_indexes(s, [("lat", 1.0), ("host", 1.0)], backfill=False)
    s.append_many(rows[:2000])
    s.seal(everything=True)
    s.append_many(rows[2000:])
    ranges: list[tuple[dt.datetime | None, dt.datetime | None]] = [
        (DAY + D(minutes=10, seconds=0.5), DAY + D(hours=1, minutes=3, microseconds=7)),
        (None, DAY + D(minutes=20)),
        (DAY + D(hours=1, minutes=59), None),
        (DAY + D(hours=5), None),
        (DAY + D(seconds=1.25), DAY + D(seconds=1.5)),
    ]
    for expression, where in PREDICATES[:12]:
        for low, high in ranges:
            got = s.execute_filter(expression, low, high).offsets.tolist()
            assert got == ref.offsets(where, low, high), (expression, low, high)
    text = s.execute_filter("lat > 50", "2024-05-01T00:30:00Z", 1714525200_000_000_000)
    assert text.offsets.tolist() == ref.offsets("lat > 50", DAY + D(minutes=30), DAY + D(hours=1))


def test_matches_of_execute_filter_read_back(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_index("host")
    rows = make_rows(3, 200, tenths=True)
    s.append_many(rows)
    found = s.execute_filter("host = 'b' AND lat > 50")
    want = [i for i, r in enumerate(rows) if r[1] == "b" and r[2] is not None and r[2] > 50]
    assert found.offsets.tolist() == want and len(found) == len(want) > 0
    assert [r.values_tuple() for r in found] == [rows[i] for i in want]
    assert found.arrow().column("_offset").to_pylist() == want


def test_string_index_with_a_number_literal(mem: rillet.Database) -> None:
    s = mem.create_stream("m", "ts TIMESTAMP, tag STRING", time_column="ts")
    s.append_many([(DAY + D(seconds=i), str(i)) for i in range(10)])
    assert s.execute_filter("tag = 3").offsets.tolist() == [3]  # no index: the predicate
    s.add_index("tag", backfill=True)
    assert s.execute_filter("tag = 3").offsets.tolist() == [3]


def test_execute_filter_with_index_sees_records_appended_just_before(tmp_path: Path) -> None:
    with rillet.connect(tmp_path / "data", commit_interval=60.0, **MANUAL) as db:
        s = db.create_stream("m", "ts TIMESTAMP, x DOUBLE", time_column="ts")
        s.add_index("x", bucket_size=1.0)
        for i in range(10):
            s.append((DAY + D(seconds=i), float(i)))
        assert s.execute_filter("x > 5").offsets.tolist() == [6, 7, 8, 9]


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_index_keeps_extreme_values(mem: rillet.Database) -> None:
    s = mem.create_stream("m", "ts TIMESTAMP, x DOUBLE, b BIGINT", time_column="ts")
    s.add_index("x", bucket_size=1.0)
    s.add_index("b", bucket_size=0.5)
    s.append_many(
        [
            (DAY, 1.0, 1),
            (DAY + D(seconds=1), 1e19, 2**62),
            (DAY + D(seconds=2), float("inf"), -(2**62)),
            (DAY + D(seconds=3), float("-inf"), 5),
        ]
    )
    assert s.execute_filter("x > 5").offsets.tolist() == [1, 2]
    assert s.execute_filter("x < 0").offsets.tolist() == [3]
    assert s.execute_filter("b > 5").offsets.tolist() == [1]
    assert s.execute_filter("b < 0").offsets.tolist() == [2]
