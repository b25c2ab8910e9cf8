"""Named aggregates: partial states per time bucket (and per minute, hour and day), merged
by get_aggregate over a time range.

A range resolves to whole buckets of the aggregate's resolution: ``[start, end)`` covers the
buckets from the one holding ``start`` up to the one holding the last microsecond before
``end``, i.e. records with ``floor(start) <= time < ceil(end)``.  Every expected value is
DuckDB's aggregate over the same rows in that resolved range.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rillet
from rillet.aggregates import Distribution
from rillet.aggregates.buckets import Level
from tests.unit.monitors.support import ARROW as RECORDS
from tests.unit.monitors.support import Reference, table
from tests.unit.support import DAY, MANUAL, integer, number

SCHEMA = "ts TIMESTAMP, host STRING, lat DOUBLE, code INT"
ARROW = RECORDS.remove(RECORDS.get_field_index("ok"))
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND, MINUTE, HOUR, DAY_US = 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000
SLOW = " FILTER (WHERE lat > 50)"
#: (name, filter, rtsql aggregate, the same in DuckDB over all rows of the range)
AGGREGATES = [
    ("n", None, "COUNT(*)", "count(*)"),
    ("n_lat", None, "COUNT(lat)", "count(lat)"),
    ("sum_code", None, "SUM(code)", "CAST(sum(code) AS BIGINT)"),
    ("sum_lat", None, "SUM(lat)", "sum(lat)"),
    ("min_lat", None, "MIN(lat)", "min(lat)"),
    ("max_lat", None, "MAX(lat)", "max(lat)"),
    ("min_host", None, "MIN(host)", "min(host)"),
    ("max_host", None, "MAX(host)", "max(host)"),
    ("avg_lat", None, "AVG(lat)", "avg(lat)"),
    ("sd_lat", None, "STDDEV(lat)", "stddev_samp(lat)"),
    ("var_code", None, "VARIANCE(code)", "var_samp(code)"),
    ("slow_n", "slow", "COUNT(*)", "count(*)" + SLOW),
    ("slow_code", "slow", "MAX(code)", "max(code)" + SLOW),
    ("slow_avg", "slow", "AVG(lat)", "avg(lat)" + SLOW),
    ("slow_first_ts", "slow", "MIN(ts)", "min(ts)" + SLOW),
    ("slow_sum_expr", "slow", "SUM(code * 2 + 1)", f"CAST(sum(code * 2 + 1){SLOW} AS BIGINT)"),
]
Bound = dt.datetime | int | None
D = dt.timedelta
#: unbounded, whole days, unaligned across days, whole hour, unaligned minutes, one bucket,
#: empty, Confluo's 0 .. sys.maxsize, reversed, open on either side
RANGES: list[tuple[Bound, Bound]] = [
    (None, None),
    (DAY, DAY + D(days=1)),
    (DAY, DAY + D(days=3)),
    (DAY + D(minutes=30, seconds=0.3), DAY + D(days=2, hours=5, seconds=7.9)),
    (DAY + D(hours=1), DAY + D(hours=2)),
    (DAY + D(hours=1, minutes=17, seconds=3.25), DAY + D(hours=1, minutes=19, microseconds=1)),
    (DAY + D(days=5), DAY + D(days=6)),
    (0, sys.maxsize),
    (DAY + D(hours=2), DAY + D(hours=1)),
    (None, DAY + D(minutes=45, seconds=0.5)),
    (DAY + D(days=2, seconds=0.5), None),
    (DAY + D(minutes=59, seconds=59), DAY + D(days=1, hours=1, seconds=1)),
]


def make_rows(seed: int, dense: int = 3000, sparse: int = 300) -> list[tuple[Any, ...]]:
    """``dense`` records in DAY's first three hours and ``sparse`` over three days, in random
    order; hosts skewed (a > b > c), NULLs in every column but the time."""
    rng = random.Random(seed)
    rows = []
    for i in range(dense + sparse):
        span = 3 * 3600 if i < dense else 3 * 86400
        ts = DAY + D(microseconds=rng.randrange(span * 1_000_000))
        host = rng.choices(["a", "b", "c", None], weights=[50, 30, 15, 5])[0]
        lat = None if rng.random() < 0.05 else round(rng.uniform(0, 100), 3)
        code = None if rng.random() < 0.05 else rng.randrange(-50, 1000)
        rows.append((ts, host, lat, code))
    rng.shuffle(rows)
    return rows


def to_us(bound: Bound) -> int | None:
    if bound is None or (isinstance(bound, int) and bound >= 2**62):
        return None
    if isinstance(bound, int):
        return -(-bound // 1000)
    return (bound - EPOCH) // D(microseconds=1)


def resolved(start: Bound, end: Bound, width: int) -> tuple[dt.datetime | None, ...]:
    """The range a get_aggregate call covers: whole buckets of ``width`` microseconds."""
    low, high = to_us(start), to_us(end)
    return (
        None if low is None else EPOCH + D(microseconds=low // width * width),
        None if high is None else EPOCH + D(microseconds=-(-high // width) * width),
    )


@pytest.fixture
def refs() -> Iterator[list[Reference]]:
    """Closes the references a test makes."""
    made: list[Reference] = []
    yield made
    for each in made:
        each.close()


def same(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-9 relative (sums in another order round differently)."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return type(got) is type(want) and bool(got == want)


def loaded(db: rillet.Database, rows: Sequence[tuple[Any, ...]]) -> rillet.Stream:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("slow", "lat > 50")
    for name, source, expression, _ in AGGREGATES:
        s.add_aggregate(name, source, expression)
    for chunk in range(0, len(rows), 500):
        s.append_many(rows[chunk : chunk + 500])
    return s


def test_aggregates_equal_duckdb_over_resolved_ranges(
    mem: rillet.Database, refs: list[Reference]
) -> None:
    rows = make_rows(1)
    s = loaded(mem, rows)
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    selects = [select for _, _, _, select in AGGREGATES]
    # the ranges hold data, except the ones meant to be empty
    counts = [integer(s.get_aggregate("n", start, end)) for start, end in RANGES]
    assert counts[0] == len(rows) == 3300
    assert counts[6] == counts[8] == 0
    assert all(c > 0 for i, c in enumerate(counts) if i not in (6, 8)), counts
    for start, end in RANGES:
        low, high = resolved(start, end, SECOND)
        wanted = ref.values(selects, low, high)
        for (name, _, _, _), want in zip(AGGREGATES, wanted, strict=True):
            got = s.get_aggregate(name, start, end)
            assert same(got, want), (name, start, end, got, want)
    # one bucket: from a record's own time to a microsecond later covers its whole second
    for row in rows[:20]:
        low, high = resolved(row[0], row[0] + D(microseconds=1), SECOND)
        assert high is not None and low is not None and high - low == D(seconds=1)
        wanted = ref.values(selects, low, high)
        for (name, _, _, _), want in zip(AGGREGATES, wanted, strict=True):
            got = s.get_aggregate(name, row[0], row[0] + D(microseconds=1))
            assert same(got, want), (name, row, got, want)
        assert integer(s.get_aggregate("n", row[0], row[0] + D(microseconds=1))) >= 1


def test_unaligned_ranges_resolve_to_whole_buckets(mem: rillet.Database) -> None:
    """Hand-worked: records at .2 s and .8 s of seconds 10 and 20; [10.5 s, 20.1 s) covers
    the buckets of seconds 10 .. 20, so all four count, though two lie outside the range."""
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("n", None, "COUNT(*)")
    s.add_aggregate("total", None, "SUM(code)")
    s.add_aggregate("n_min", None, "COUNT(*)", resolution="1m")
    s.append_many(
        [
            (DAY + D(seconds=10.2), "a", 1.0, 1),
            (DAY + D(seconds=10.8), "a", 1.0, 10),
            (DAY + D(seconds=20.2), "a", 1.0, 100),
            (DAY + D(seconds=20.8), "a", 1.0, 1000),
            (DAY + D(seconds=21.0), "a", 1.0, 10000),
            (DAY + D(seconds=61), "a", 1.0, 100000),
        ]
    )
    assert s.get_aggregate("n", DAY + D(seconds=10.5), DAY + D(seconds=20.1)) == 4
    assert s.get_aggregate("total", DAY + D(seconds=10.5), DAY + D(seconds=20.1)) == 1111
    assert s.get_aggregate("total", DAY + D(seconds=10.5), DAY + D(seconds=21)) == 1111
    assert s.get_aggregate("total", DAY + D(seconds=10.5), DAY + D(seconds=21.000001)) == 11111
    assert s.get_aggregate("total", DAY + D(seconds=11), DAY + D(seconds=20)) is None
    # resolution 1m: the same range is the whole first minute
    assert s.get_aggregate("n_min", DAY + D(seconds=10.5), DAY + D(seconds=20.1)) == 5
    assert s.get_aggregate("n_min", DAY + D(seconds=59.5), DAY + D(seconds=60.5)) == 6


def test_empty_range_of_a_sum_is_null(mem: rillet.Database) -> None:
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("total", None, "SUM(code)")
    s.add_aggregate("n", None, "COUNT(*)")
    s.append_many([(DAY + D(seconds=10), "a", 1.0, 5)])
    assert s.get_aggregate("total", DAY + D(seconds=11), DAY + D(seconds=20)) is None
    assert s.get_aggregate("n", DAY + D(seconds=11), DAY + D(seconds=20)) == 0
    assert s.get_aggregate("total") == 5


@pytest.mark.parametrize("resolution", ["1m", "5s", "7s", "1h"])
def test_other_resolutions(mem: rillet.Database, refs: list[Reference], resolution: str) -> None:
    width = {"1m": MINUTE, "5s": 5 * SECOND, "7s": 7 * SECOND, "1h": HOUR}[resolution]
    rows = make_rows(2, 1500, 200)
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("sum_code", None, "SUM(code)", resolution=resolution)
    s.add_aggregate("max_lat", None, "MAX(lat)", resolution=resolution)
    s.append_many(rows)
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    for start, end in RANGES:
        low, high = resolved(start, end, width)
        total, largest = ref.values(["CAST(sum(code) AS BIGINT)", "max(lat)"], low, high)
        assert s.get_aggregate("sum_code", start, end) == total, (resolution, start, end)
        assert s.get_aggregate("max_lat", start, end) == largest, (resolution, start, end)


#: RANGES and ranges cut at milliseconds, inside one second and across a few
FINE_RANGES: list[tuple[Bound, Bound]] = [
    *RANGES,
    *[
        (
            DAY + D(hours=h, seconds=sec, milliseconds=a),
            DAY + D(hours=h, seconds=sec, milliseconds=b),
        )
        for h, sec, a, b in [(0, 17, 120, 480), (1, 3, 5, 995), (2, 59, 333, 2_401), (0, 0, 0, 7)]
    ],
]
MS = 1_000


def test_a_given_resolution_is_the_aggregates_own(
    mem: rillet.Database, refs: list[Reference]
) -> None:
    """A resolution given to an aggregate is kept whatever its filter's; one given to a
    filter is that of its aggregates that give none; with neither, the aggregate is 1 s."""
    rows = make_rows(8, 4000, 100)
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("slow", "lat > 50", resolution="1m")
    s.add_filter("fast", "lat <= 50")
    s.add_aggregate("fine", "slow", "SUM(code)", resolution="1ms")
    s.add_aggregate("tenth", "slow", "SUM(code)", resolution="100ms")
    s.add_aggregate("inherited", "slow", "SUM(code)")
    s.add_aggregate("automatic", "fast", "SUM(code)")
    for chunk in range(0, len(rows), 700):
        s.append_many(rows[chunk : chunk + 700])
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    cases = [
        ("fine", MS, "lat > 50"),
        ("tenth", 100 * MS, "lat > 50"),
        ("inherited", MINUTE, "lat > 50"),
        ("automatic", SECOND, "lat <= 50"),
    ]
    # around records: the record in, and just after it (in for the coarser buckets only)
    near = [(r[0] - D(milliseconds=7.5), r[0] + D(milliseconds=0.3)) for r in rows[:40]]
    near += [(r[0] + D(milliseconds=1.2), r[0] + D(milliseconds=450)) for r in rows[:40]]
    for name, width, where in cases:
        assert s.monitors.aggregates[name].resolution_us == width
        for start, end in FINE_RANGES + near:
            low, high = resolved(start, end, width)
            want = ref.value(f"CAST(sum(code) FILTER (WHERE {where}) AS BIGINT)", low, high)
            assert s.get_aggregate(name, start, end) == want, (name, start, end)


def test_a_10ms_aggregate_reads_a_day_from_a_few_states(
    mem: rillet.Database, refs: list[Reference], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made 10 ms by a 10 ms trigger, an aggregate keeps seconds, minutes, hours and days
    too: a range is read as at most nine slices, and a whole day as one state."""
    rows = make_rows(9)
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("n", None, "COUNT(*)")
    s.install_trigger("never", "n > 1000000", period="10ms")
    s.append_many(rows)
    assert s.monitors.aggregates["n"].widths == (10 * MS, SECOND, MINUTE, HOUR, DAY_US)
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    s.get_aggregate("n")  # the first read after ingest reduces the coarser levels
    read: list[np.ndarray] = []
    original = Level.columns

    def recording(self: Level, low: int, high: int) -> dict[str, np.ndarray]:
        columns = original(self, low, high)
        read.append(columns["n"])
        return columns

    monkeypatch.setattr(Level, "columns", recording)
    # 10 ms buckets up to a second, seconds up to a minute, ... at either end, and the days
    bound = 2 * (99 + 59 + 59 + 23) + 3
    for start, end in FINE_RANGES:
        read.clear()
        total = s.get_aggregate("n", start, end)
        low, high = resolved(start, end, 10 * MS)
        assert total == ref.value("count(*)", low, high), (start, end)
        assert sum(len(states) for states in read) <= bound, (start, end)
        assert len(read) <= 9
    read.clear()
    assert s.get_aggregate("n", DAY, DAY + D(days=1)) == ref.value("count(*)", DAY, DAY + D(1))
    assert [len(states) for states in read] == [1]


def test_states_are_kept_per_second_minute_hour_and_day(
    mem: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of data in thousands of 1 s buckets is answered from a few coarser states."""
    rows = make_rows(3)
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("n", None, "COUNT(*)")
    s.append_many(rows)
    assert s.monitors.aggregates["n"].widths == (SECOND, MINUTE, HOUR, DAY_US)
    seconds = {(r[0] - DAY) // D(seconds=1) for r in rows if r[0] < DAY + D(days=1)}
    assert len(seconds) > 2500
    s.get_aggregate("n")  # the first read after ingest reduces the coarser levels
    read: list[np.ndarray] = []  # the kept states each answer reads
    original = Level.columns

    def recording(self: Level, low: int, high: int) -> dict[str, np.ndarray]:
        columns = original(self, low, high)
        read.append(columns["n"])
        return columns

    monkeypatch.setattr(Level, "columns", recording)
    # At most the seconds up to a minute, the minutes up to an hour, the hours up to a day,
    # at either end, plus whole days (read as at most seven slices of the levels).
    bound = 2 * (59 + 59 + 23) + 3
    for start, end in RANGES:
        read.clear()
        total = s.get_aggregate("n", start, end)
        assert sum(len(states) for states in read) <= bound, (start, end, read)
        assert sum(int(states.sum()) for states in read) == total
    read.clear()
    day = s.get_aggregate("n", DAY, DAY + D(days=1))
    assert day == sum(1 for r in rows if DAY <= r[0] < DAY + D(days=1)) > 2500
    assert [len(states) for states in read] == [1]  # the one day state is read


def test_first_and_last_in_arrival_order_on_ordered_data(
    mem: rillet.Database, refs: list[Reference]
) -> None:
    """FIRST and LAST take the first and last non-NULL value in arrival order; with records
    arriving in event-time order that is DuckDB's first/last by offset."""
    rows = sorted(make_rows(4), key=lambda r: r[0])
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("first_lat", None, "FIRST(lat)")
    s.add_aggregate("last_host", None, "LAST(host)")
    s.add_aggregate("slow_first", None, "FIRST(code)")
    for chunk in range(0, len(rows), 333):
        s.append_many(rows[chunk : chunk + 333])
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    picks = [
        ("first_lat", "arg_min(lat, _offset) FILTER (WHERE lat IS NOT NULL)"),
        ("last_host", "arg_max(host, _offset) FILTER (WHERE host IS NOT NULL)"),
        ("slow_first", "arg_min(code, _offset) FILTER (WHERE code IS NOT NULL)"),
    ]
    for start, end in RANGES:
        low, high = resolved(start, end, SECOND)
        wanted = ref.values([select for _, select in picks], low, high)
        for (name, _), want in zip(picks, wanted, strict=True):
            assert s.get_aggregate(name, start, end) == want, (name, start, end)


def test_first_and_last_do_not_depend_on_bucket_levels(mem: rillet.Database) -> None:
    """FIRST and LAST pick by offset, so a range answered by per-second states and one
    answered by a per-minute state agree, whatever the order of event time."""
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("first_lat", None, "FIRST(lat)")
    s.add_aggregate("last_lat", None, "LAST(lat)")
    s.append_many(
        [
            (DAY + D(seconds=30), "a", 30.0, 0),
            (DAY + D(seconds=0), "a", 0.0, 0),
            (DAY + D(seconds=65), "a", 65.0, 0),  # lets the minute state answer [0, 60 s)
        ]
    )
    # both ranges hold exactly the records at 0 s and 30 s; arrival order: 30.0 then 0.0
    for end in (DAY + D(seconds=59), DAY + D(seconds=60)):
        assert s.get_aggregate("first_lat", DAY, end) == 30.0, end
        assert s.get_aggregate("last_lat", DAY, end) == 0.0, end


def test_sketches_within_their_error(mem: rillet.Database, refs: list[Reference]) -> None:
    rows = make_rows(5, 4000, 0)
    s = mem.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("distinct_code", None, "APPROX_COUNT_DISTINCT(code)")
    s.add_aggregate("distinct_host", None, "APPROX_COUNT_DISTINCT(host)")
    s.add_aggregate("p90", None, "APPROX_QUANTILE(lat, 0.9)")
    s.add_aggregate("median", None, "APPROX_QUANTILE(lat, 0.5)")
    s.add_aggregate("top", None, "TOP_K(host, 2)")
    s.add_aggregate("dist", None, "DISTRIBUTION(lat)")
    for chunk in range(0, len(rows), 400):
        s.append_many(rows[chunk : chunk + 400])
    ref = Reference(table(rows, ARROW))
    refs.append(ref)
    for start, end in [(None, None), (DAY + D(minutes=20), DAY + D(hours=2, seconds=0.5))]:
        low, high = resolved(start, end, SECOND)
        lats = sorted(
            r[2]
            for r in rows
            if r[2] is not None and (low is None or r[0] >= low) and (high is None or r[0] < high)
        )
        distinct = ref.value("count(DISTINCT code)", low, high)
        assert distinct > 900
        assert abs(s.get_aggregate("distinct_code", start, end) - distinct) <= 0.03 * distinct
        assert s.get_aggregate("distinct_host", start, end) == 3  # exact while few
        for name, q in (("p90", 0.9), ("median", 0.5)):
            value = number(s.get_aggregate(name, start, end))
            rank = np.searchsorted(lats, value, side="right") / len(lats)
            assert abs(rank - q) <= 0.02, (name, rank)
        assert s.get_aggregate("top", start, end) == ["a", "b"]
        dist = s.get_aggregate("dist", start, end)
        assert isinstance(dist, Distribution)
        assert (dist.n, dist.min, dist.max) == (len(lats), lats[0], lats[-1])
        assert abs(np.searchsorted(lats, dist.quantile(0.25), side="right") / len(lats) - 0.25) <= (
            0.02
        )


def test_new_aggregate_covers_new_data_and_backfill_covers_sealed_history(
    tmp_path: Path, refs: list[Reference]
) -> None:
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
        old = make_rows(6, 1500, 100)
        s.append_many(old)
        assert s.seal(everything=True) > 3
        s.add_filter("slow", "lat > 50", backfill=True)
        s.add_aggregate("sum_new", None, "SUM(code)")
        s.add_aggregate("sum_all", None, "SUM(code)", backfill=True)
        s.add_aggregate("slow_all", "slow", "AVG(lat)", backfill=True)
        s.add_aggregate("n_all", None, "COUNT(*)", backfill=True)
        new = make_rows(7, 500, 50)
        s.append_many(new)
        everything, fresh = Reference(table([*old, *new], ARROW)), Reference(table(new, ARROW))
        refs.extend([everything, fresh])
        for start, end in RANGES:
            low, high = resolved(start, end, SECOND)
            total, slow = everything.values(
                ["CAST(sum(code) AS BIGINT)", "avg(lat)" + SLOW], low, high
            )
            assert s.get_aggregate("sum_new", start, end) == fresh.value(
                "CAST(sum(code) AS BIGINT)", low, high
            )
            assert s.get_aggregate("sum_all", start, end) == total
            assert same(s.get_aggregate("slow_all", start, end), slow)
        assert s.get_aggregate("n_all") == len(old) + len(new)


def test_a_list_result_is_the_callers_own(mem: rillet.Database) -> None:
    """Changing a FIRST of a LIST that get_aggregate returned changes no later answer."""
    s = mem.create_stream("l", "ts TIMESTAMP, v LIST<INT>", time_column="ts")
    s.add_aggregate("first", None, "FIRST(v)")
    s.append_many([(DAY, [1, 2]), (DAY + D(minutes=2), [7])])
    for start, end in ((DAY, DAY + D(seconds=1)), (None, None)):
        got = s.get_aggregate("first", start, end)
        assert got == [1, 2] and isinstance(got, list)
        got.append(99)
        assert s.get_aggregate("first", start, end) == [1, 2]
