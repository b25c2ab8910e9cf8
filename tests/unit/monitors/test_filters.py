"""Named filters: matches kept per time bucket, read back with query_filter over time ranges.

Records carry explicit event times spread over hours of 1 s buckets and arrive out of order;
every answer is DuckDB's WHERE over the same rows (with their offsets) and the same range.
query_filter is exact at the microsecond: its range is not widened to whole buckets.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import rillet
from rillet import errors
from tests.unit.monitors.support import ARROW, SCHEMA, Reference, make_rows, table
from tests.unit.support import DAY, parquet_files

#: (name, rtsql predicate, the same predicate in DuckDB SQL)
FILTERS = [
    ("slow", "lat > 80", "lat > 80"),
    ("host_a_or_code", "host = 'a' || code >= 7", "host = 'a' OR code >= 7"),
    ("ok_fast", "ok && lat < 20.5", "ok AND lat < 20.5"),
    ("no_lat", "lat IS NULL", "lat IS NULL"),
    ("not_ok", "NOT ok", "NOT ok"),
    ("mixed", "(code = 3 OR code = 4) AND host != 'b'", "(code = 3 OR code = 4) AND host <> 'b'"),
    ("arith", "lat * 2 + code > 150", "lat * 2 + code > 150"),
]
Bound = dt.datetime | str | int | None
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: ranges over the data (which spans DAY 00:00 .. 02:00): unbounded, unaligned, inside one
#: second, empty, reversed, Confluo's 0 .. sys.maxsize, ISO text, epoch nanoseconds
RANGES: list[tuple[Bound, Bound]] = [
    (None, None),
    (DAY + dt.timedelta(minutes=10, seconds=0.5), DAY + dt.timedelta(hours=1, seconds=127.25)),
    (DAY + dt.timedelta(seconds=100.2), DAY + dt.timedelta(seconds=100.7)),
    (DAY + dt.timedelta(hours=3), DAY + dt.timedelta(hours=4)),
    (DAY + dt.timedelta(hours=1), DAY + dt.timedelta(minutes=30)),
    (0, sys.maxsize),
    ("2024-05-01T00:30:00.000001Z", "2024-05-01T01:15:00Z"),
    (1714521600_000_000_000 + 3_000_000_000_123, None),
    (None, DAY + dt.timedelta(minutes=45, microseconds=17)),
]


def to_datetime(bound: Bound) -> dt.datetime | None:
    """A bound as DuckDB's parameter: microseconds, rounded up as rillet does."""
    if bound is None or (isinstance(bound, int) and bound >= 2**62):
        return None
    if isinstance(bound, int):
        return EPOCH + dt.timedelta(microseconds=-(-bound // 1000))
    if isinstance(bound, str):
        return dt.datetime.fromisoformat(bound)
    return bound


def expected(tables: pa.Table, where: str, start: Bound = None, end: Bound = None) -> list[int]:
    """Offsets DuckDB finds for ``where`` with ts in ``[start, end)``."""
    ref = Reference(tables)
    try:
        return ref.offsets(where, to_datetime(start), to_datetime(end))
    finally:
        ref.close()


def test_filters_match_duckdb_over_time_ranges(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    for name, predicate, _ in FILTERS:
        s.add_filter(name, predicate)
    rows = make_rows(1, 4000, 7200)
    for chunk in range(0, len(rows), 700):  # several batches, each out of order
        s.append_many(rows[chunk : chunk + 700])
    data = table(rows)
    for name, _, where in FILTERS:
        everything = expected(data, where)
        assert 0 < len(everything) < len(rows), name  # each filter is selective
        for start, end in RANGES:
            got = s.query_filter(name, start, end).offsets.tolist()
            assert got == expected(data, where, start, end), (name, start, end)


@pytest.mark.parametrize("resolution", ["1s", "7s", "1m", "1h", "daily"])
def test_resolution_does_not_change_answers(mem: rillet.Database, resolution: str) -> None:
    """Matches are bucketed by ``resolution``, but query_filter cuts the range exactly."""
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("slow", "lat > 80", resolution=resolution)
    rows = make_rows(2, 1500, 7200)
    s.append_many(rows)
    data = table(rows)
    for start, end in RANGES:
        assert s.query_filter("slow", start, end).offsets.tolist() == expected(
            data, "lat > 80", start, end
        )


def test_single_appends_are_filtered_once_flushed(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("ok_fast", "ok && lat < 20.5")
    rows = make_rows(3, 300, 600)
    for row in rows:
        s.append(row)
    s.flush()
    assert s.query_filter("ok_fast").offsets.tolist() == expected(table(rows), "ok AND lat < 20.5")


def test_matches_api(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("slow", "lat > 80")
    rows = make_rows(4, 500, 300)
    s.append_many(rows)
    want = expected(table(rows), "lat > 80")
    found = s.query_filter("slow")
    assert isinstance(found, rillet.Matches)
    assert len(found) == len(want) > 0
    assert found.offsets.dtype == np.int64
    assert found.offsets.tolist() == want
    arrow = found.arrow()
    assert arrow.column_names == [*ARROW.names, "_offset"]
    assert arrow.column("_offset").to_pylist() == want
    assert arrow.column("lat").to_pylist() == [rows[o][2] for o in want]
    records = list(found)
    assert [r.offset for r in records] == want
    assert [r.values_tuple() for r in records] == [rows[o] for o in want]
    empty = s.query_filter("slow", DAY + dt.timedelta(days=9), None)
    assert len(empty) == 0 and empty.offsets.tolist() == [] and list(empty) == []
    assert empty.arrow().num_rows == 0


def test_new_filter_covers_new_data_and_backfill_covers_sealed_history(
    db: rillet.Database,
) -> None:
    s = db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
    old = make_rows(5, 1200, 7200)
    s.append_many(old)
    assert s.seal(everything=True) == 2
    assert len(parquet_files(db.path or Path())) == 2
    s.add_filter("slow_new", "lat > 80")
    s.add_filter("slow_all", "lat > 80", backfill=True)
    new = make_rows(6, 800, 7200)
    s.append_many(new)
    data = table([*old, *new])
    both = expected(data, "lat > 80")
    assert s.query_filter("slow_all").offsets.tolist() == both
    assert s.query_filter("slow_new").offsets.tolist() == [o for o in both if o >= len(old)]
    start, end = DAY + dt.timedelta(minutes=20), DAY + dt.timedelta(minutes=95, seconds=0.5)
    assert s.query_filter("slow_all", start, end).offsets.tolist() == expected(
        data, "lat > 80", start, end
    )
    # the matches read back from Parquet and memory alike
    assert [r["lat"] for r in s.query_filter("slow_all")] == [
        r[2] for r in [*old, *new] if r[2] is not None and r[2] > 80
    ]


def test_removed_filter_is_gone_and_a_new_one_starts_afresh(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("slow", "lat > 80")
    first = make_rows(7, 300, 600)
    s.append_many(first)
    s.remove_filter("slow")
    with pytest.raises(errors.NotFoundError, match="unknown filter 'slow' on stream 'm'"):
        s.query_filter("slow")
    s.add_filter("slow", "lat > 90")
    second = make_rows(8, 300, 600)
    s.append_many(second)
    want = expected(table([*first, *second]), "lat > 90")
    assert s.query_filter("slow").offsets.tolist() == [o for o in want if o >= len(first)]


def test_stream_without_time_column_filters_by_ingest_time(mem: rillet.Database) -> None:
    s = mem.create_stream("plain", "v INT, tag STRING")
    s.add_filter("odd", "v % 2 = 1")
    before = dt.datetime.now(dt.UTC)
    s.append_many([(i, str(i)) for i in range(50)])
    assert s.query_filter("odd").offsets.tolist() == list(range(1, 50, 2))
    assert s.query_filter("odd", before - dt.timedelta(seconds=1)).offsets.tolist() == list(
        range(1, 50, 2)
    )
    assert s.query_filter("odd", None, before - dt.timedelta(seconds=1)).offsets.tolist() == []


def test_filter_names_are_case_insensitive_like_identifiers(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("LowRes", "lat < 10")
    rows = make_rows(9, 200, 60)
    s.append_many(rows)
    assert s.query_filter("LowRes").offsets.tolist() == expected(table(rows), "lat < 10")


ADD_WHILE_BUFFERED = """
import os, sys, threading
import rillet
db = rillet.connect(maintenance_interval=3600.0)   # the committer runs every 5 ms
s = db.create_stream("m", "ts TIMESTAMP, x DOUBLE", time_column="ts")
done = threading.Event()
def work():
    for k in range(50):
        for i in range(20):                             # buffered until the next commit
            s.append((1714521600_000_000_000 + (20 * k + i) * 1000, float(i)))
        s.add_filter(f"f{k}", "x > 5", backfill=k % 2 == 0)
    done.set()
threading.Thread(target=work, daemon=True).start()
if not done.wait(6):                                    # a watchdog, not a timing assertion
    print("deadlocked", flush=True)
    os._exit(3)
s.flush()
print(len(s.monitors.filters), len(s.query_filter("f0")), flush=True)
os._exit(0)
"""


def test_adding_a_filter_while_records_are_buffered_does_not_deadlock() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ADD_WHILE_BUFFERED],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert (done.returncode, done.stdout.split()) == (0, ["50", "700"]), done.stderr
