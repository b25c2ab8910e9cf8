"""TUMBLE, HOP and SESSION windows against DuckDB over the same records: random out-of-order
records, random window sizes, late records within and beyond the lateness; a live run (the
records appended in pieces while the flow runs) and a replay give the same rows.

The only thing computed in Python is the watermark each record arrived to (a loop over the
records: the newest time before it minus the lateness); DuckDB assigns the windows and
aggregates, keeping a (record, window) pair when the window was still open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import datasketches as ds
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rillet
from rillet.flows import config, timewindows
from rillet.flows.flow import _Subscriber
from tests.unit.support import wait_until

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MS = 1000
BASE = 19675 * 86_400_000_000  # a day start, epoch microseconds: windows align with it


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def events() -> st.SearchStrategy[list[tuple[int, Any, int | None]]]:
    """(time in ms, key, value): mostly forward, some a little late, some very late."""
    move = st.tuples(
        st.integers(0, 19),
        st.integers(0, 700),
        st.integers(0, 900),
        st.integers(900, 6000),
        st.sampled_from(["a", "b", "c", None]),
        st.one_of(st.none(), st.integers(-50, 50)),
    )

    def times(moves: list[tuple[int, int, int, int, Any, int | None]]) -> list[Any]:
        now, out = 10_000, []
        for kind, forward, little, late, key, value in moves:
            if kind < 14:
                now += forward
                at = now
            else:
                at = max(now - (little if kind < 18 else late), 0)
            out.append((at, key, value))
        return out

    return st.lists(move, min_size=1, max_size=50).map(times)


def _arrived(data: list[tuple[int, Any, int | None]], lateness: int) -> list[int]:
    """The watermark each record arrived to (ms): the newest time before it minus lateness."""
    out, newest = [], None
    for t, _, _ in data:
        out.append(-(10**12) if newest is None else newest - lateness)
        newest = t if newest is None else max(newest, t)
    return out


def _expected(
    data: list[tuple[int, Any, int | None]],
    kind: str,
    sizes: tuple[int, int],
    lateness: int,
    where: str = "TRUE",
) -> tuple[list[tuple[Any, ...]], int, int]:
    """(window_start, window_end, key, count, sum, max, min, avg) rows by DuckDB, late and
    dropped, of the records ``where`` holds; the watermark each arrives to is of every
    record before it (those the WHERE leaves out were seen too)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE r (t BIGINT, k VARCHAR, v BIGINT, p BIGINT)")
    marks = _arrived(data, lateness)
    con.executemany(
        "INSERT INTO r VALUES (?, ?, ?, ?)", [(*row, p) for row, p in zip(data, marks, strict=True)]
    )
    if kind == "session":
        gap = sizes[0]
        rows = con.execute(
            f"""
            WITH kept AS (SELECT * FROM r WHERE t >= p AND ({where})),
            marked AS (
                SELECT *, CASE WHEN t - max(t) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN
                    UNBOUNDED PRECEDING AND 1 PRECEDING) < {gap} THEN 0 ELSE 1 END AS new
                FROM kept),
            numbered AS (
                SELECT *, sum(new) OVER (PARTITION BY k ORDER BY t, new DESC
                    ROWS UNBOUNDED PRECEDING) AS s FROM marked)
            SELECT min(t), max(t) + {gap}, k, count(v), sum(v), max(v), min(v), avg(v)
            FROM numbered GROUP BY k, s
            """
        ).fetchall()
        late = con.execute(f"SELECT count(*) FROM r WHERE t < p AND ({where})").fetchone()
        assert late is not None
        return rows, late[0], late[0]
    slide, size = sizes
    rows = con.execute(
        f"""
        WITH pairs AS (
            SELECT *, unnest(generate_series(
                (t // {slide}) * {slide} - {size} + {slide}, (t // {slide}) * {slide}, {slide}
            )) AS ws FROM r WHERE {where})
        SELECT ws, ws + {size}, k, count(v), sum(v), max(v), min(v), avg(v)
        FROM pairs WHERE ws + {size} > p GROUP BY ws, k
        """
    ).fetchall()
    counts = con.execute(
        f"""SELECT count(*) FILTER ((t // {slide}) * {slide} + {slide} <= p),
                   count(*) FILTER ((t // {slide}) * {slide} + {size} <= p) FROM r
            WHERE {where}"""
    ).fetchone()
    assert counts is not None
    return rows, counts[0], counts[1]


def _flow_rows(
    db: rillet.Database, data: list[Any], window: str, live: bool, pieces: int, where: str = "TRUE"
) -> tuple[list[tuple[Any, ...]], int, int]:
    name = f"s{len(db.streams())}"
    stream = db.create_stream(name, "ts TIMESTAMP, k STRING, v BIGINT", time_column="ts")
    rows = [((BASE + t * MS) * 1000, k, v) for t, k, v in data]  # epoch ns
    query = (
        f"SELECT window_start, window_end, k, COUNT(v) AS n, SUM(v) AS total, MAX(v) AS top, "
        f"MIN(v) AS low, AVG(v) AS mean "
        f"FROM {name} WHERE {where} GROUP BY k, {window}"
    )

    def feed() -> None:
        size = max(len(rows) // pieces, 1)
        for i in range(0, len(rows), size):
            stream.append_many(rows[i : i + size])
            if live:
                stream.caught_up()

    if not live:
        feed()
    flow = db.execute(query)
    assert isinstance(flow, rillet.Flow)
    if live:
        feed()
    flow.finish()
    out = []
    for r in flow:
        assert r.timestamp == r["window_end"]
        out.append(
            (
                _ms(r["window_start"]),
                _ms(r["window_end"]),
                r["k"],
                r["n"],
                r["total"],
                r["top"],
                r["low"],
                r["mean"],
            )
        )
    return out, flow.late_events, flow.dropped_events


def _ms(stamp: dt.datetime) -> int:
    return round(stamp.timestamp() * 1_000_000 - BASE) // MS


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("" if v is None else v for v in row)


@SETTINGS
@given(
    data=events(),
    kind=st.sampled_from(["tumble", "hop", "session"]),
    size_ms=st.sampled_from([100, 500, 1000, 3000]),
    slides=st.sampled_from([1, 2, 5]),
    lateness_ms=st.sampled_from([0, 300, 1500]),
    pieces=st.integers(1, 6),
    form=st.booleans(),
    where=st.sampled_from(["TRUE", "v > 0", "k = 'a'", "ts < 15000"]),
)
def test_windows_match_duckdb(
    db: rillet.Database,
    data: list[tuple[int, Any, int | None]],
    kind: str,
    size_ms: int,
    slides: int,
    lateness_ms: int,
    pieces: int,
    form: bool,
    where: str,
) -> None:
    db.set(config.LATENESS, f"{lateness_ms}ms" if form else lateness_ms)
    # both forms of an interval: INTERVAL 'n' UNIT and INTERVAL n UNITS

    def ival(ms: int) -> str:
        return f"INTERVAL '{ms}' MILLISECOND" if form else f"INTERVAL {ms} MILLISECONDS"

    if kind == "tumble":
        window, sizes = f"TUMBLE(ts, {ival(size_ms)})", (size_ms, size_ms)
    elif kind == "hop":
        slide = max(size_ms // slides, 1)
        size = slide * slides
        window, sizes = f"HOP(ts, {ival(slide)}, {ival(size)})", (slide, size)
    else:
        window, sizes = f"SESSION(ts, {ival(size_ms)})", (size_ms, 0)
    if where.startswith("ts"):  # a WHERE reading the time: the records it leaves out are
        # not seen by the windows at all (a guard against bad clocks)
        cut = int(where.split()[-1])
        expected, late, dropped = _expected(
            [r for r in data if r[0] < cut], kind, sizes, lateness_ms
        )
        at = dt.datetime.fromtimestamp((BASE + cut * MS) / 1e6, dt.UTC)
        where = f"ts < '{at.isoformat()}'"
    else:
        expected, late, dropped = _expected(data, kind, sizes, lateness_ms, where)
    got, got_late, got_dropped = _flow_rows(db, data, window, True, pieces, where)
    assert sorted(got, key=_key) == sorted(expected, key=_key)
    assert (got_late, got_dropped) == (late, dropped)
    replay, replay_late, replay_dropped = _flow_rows(db, data, window, False, pieces, where)
    assert sorted(replay, key=_key) == sorted(got, key=_key)
    assert (replay_late, replay_dropped) == (late, dropped)


def test_batches_that_queued_up_go_through_as_one_with_the_same_output(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined: list[int] = []
    original = _Subscriber.observe_many

    def counted(self: _Subscriber, batches: list[Any]) -> None:
        joined.append(len(batches))
        original(self, batches)

    monkeypatch.setattr(_Subscriber, "observe_many", counted)
    query = (
        "SELECT k, window_start, count(*) AS n, sum(v) AS total FROM {} "
        "GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)"
    )
    batches = [
        [(dt.datetime(2024, 1, 1, 0, 0, s // 3, tzinfo=dt.UTC), "ab"[s % 2], s) for s in rng]
        for rng in (range(0, 4), range(4, 9), range(9, 11), range(11, 20), range(20, 26))
    ]
    outputs = []
    for name, hold in (("one", False), ("held", True)):
        stream = db.create_stream(name, "ts TIMESTAMP, k STRING, v INT", time_column="ts")
        flow = db.execute(query.format(name))
        if hold:
            with flow._lock:  # the flow is busy: the batches after the first queue up
                stream.append_many(batches[0])
                queued = flow._subscriptions[0][1]._queue
                assert wait_until(queued.empty)
                for batch in batches[1:]:
                    stream.append_many(batch)
        else:
            for batch in batches:
                stream.append_many(batch)
                stream.caught_up()
        flow.finish()
        outputs.append([tuple(r.values()) for r in flow])
    assert joined == [len(batches) - 1]
    assert outputs[0] == outputs[1] and len(outputs[0]) == 18  # 2 keys over 9 seconds


def test_a_hop_of_many_windows_a_record_takes_a_batch_in_pieces_with_the_same_rows(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # out of order, late within and beyond the lateness, in one batch: cut into pieces of
    # 3 records (a HOP of 4 windows a record, at most 13 pairs at once)
    data: list[tuple[int, Any, int | None]] = [
        (t, "ab"[t % 2], t % 7) for t in (1000, 1300, 900, 2600, 2000, 4100, 1200, 3900)
    ]
    data += [(t, "c", 1) for t in range(4200, 6000, 250)] + [(1500, "a", 50)]
    expected, late, dropped = _expected(data, "hop", (250, 1000), 300)
    assert late and dropped  # the case has both
    db.set(config.LATENESS, 300)
    pieces: list[int] = []
    original = timewindows.EventWindows._push_rows

    def counted(self: timewindows.EventWindows, batch: Any) -> None:
        pieces.append(batch.num_rows)
        original(self, batch)

    monkeypatch.setattr(timewindows, "_PAIRS", 13)
    monkeypatch.setattr(timewindows.EventWindows, "_push_rows", counted)
    window = "HOP(ts, INTERVAL '250' MILLISECOND, INTERVAL '1' SECOND)"
    got, got_late, got_dropped = _flow_rows(db, data, window, False, 1)
    assert max(pieces) == 3 and sum(pieces) == len(data)
    assert sorted(got, key=_key) == sorted(expected, key=_key)
    assert (got_late, got_dropped) == (late, dropped)


def _session_rows(
    db: rillet.Database,
    data: list[tuple[int, Any, int | None]],
    pieces: int,
    gap: str = "INTERVAL '700' MILLISECOND",
) -> list[tuple[Any, ...]]:
    """A SESSION flow's rows over ``data`` appended live in ``pieces``: FIRST, LAST and its
    DISTRIBUTION's bytes."""
    name = f"s{len(db.streams())}"
    stream = db.create_stream(name, "ts TIMESTAMP, k STRING, v BIGINT", time_column="ts")
    flow = db.execute(
        f"SELECT window_start, k, FIRST(v) AS f, LAST(v) AS l, DISTRIBUTION(v) AS d "
        f"FROM {name} GROUP BY k, SESSION(ts, {gap})"
    )
    rows = [((BASE + t * MS) * 1000, k, v) for t, k, v in data]
    size = max(len(rows) // pieces, 1)
    for i in range(0, len(rows), size):
        stream.append_many(rows[i : i + size])
        stream.caught_up()
    flow.finish()
    out = [(_ms(r["window_start"]), r["k"], r["f"], r["l"], r["d"]) for r in flow]
    for row in out:  # at most k values: each exactly, in ascending order
        held = [v for v, _ in ds.kll_doubles_sketch.deserialize(row[-1])]
        assert all(w == 1 for _, w in ds.kll_doubles_sketch.deserialize(row[-1]))
        assert held == sorted(held)
    return sorted(out, key=_key)


@SETTINGS
@given(data=events(), pieces=st.integers(2, 8), lateness_ms=st.sampled_from([0, 1500]))
def test_a_sessions_first_last_and_values_do_not_depend_on_the_batches(
    db: rillet.Database, data: list[tuple[int, Any, int | None]], pieces: int, lateness_ms: int
) -> None:
    """FIRST and LAST are of the records' order, not their times', and a DISTRIBUTION's
    bytes are the same, however the records were cut into batches (a batch's session took
    its records in time order; a late record joining two sessions of one batch put their
    values one session after the other)."""
    db.set(config.LATENESS, lateness_ms)
    assert _session_rows(db, data, pieces) == _session_rows(db, data, 1)


def test_a_session_merged_from_batches_holds_its_values_in_their_order(
    db: rillet.Database,
) -> None:
    """Out of order, one record a batch or all at once: the same FIRST, LAST and
    DISTRIBUTION bytes (its values in ascending order)."""
    data: list[tuple[int, Any, int | None]] = [
        (20_000, "a", 3), (10_000, "a", 2), (30_000, "a", 4), (5_000, "a", 1), (99_000, "a", 0)
    ]  # fmt: skip
    db.set(config.LATENESS, 60_000)
    outputs = [
        _session_rows(db, data, pieces, "INTERVAL '1' MINUTE") for pieces in (1, len(data), 2)
    ]
    sketch = ds.kll_doubles_sketch(200)
    for v in (4.0, 3.0, 2.0, 1.0):  # level 0 fills backwards: the bytes hold 1, 2, 3, 4
        sketch.update(v)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][0][2:] == (3, 1, sketch.serialize())


@pytest.mark.parametrize(
    ("where", "expected", "late"),
    [
        # a WHERE on other columns: the record it leaves out is seen; its time (year 2100)
        # closes the first minute at once, and the records after it are late
        ("v > 0", [(0, 1)], 2),
        # a WHERE reading the windows' time leaves a bad clock's record out of the
        # watermark too: the minutes close by the records it keeps
        ("ts < '2030-01-01T00:00:00Z'", [(0, 2), (1, 1)], 0),
        ("v > 0 AND ts < '2030-01-01T00:00:00Z'", [(0, 2), (1, 1)], 0),
    ],
)
def test_a_record_the_where_leaves_out_moves_the_watermark_unless_the_where_reads_the_time(
    db: rillet.Database, where: str, expected: list[tuple[int, int]], late: int
) -> None:
    stream = db.create_stream(f"w{len(db.streams())}", "ts TIMESTAMP, v BIGINT", time_column="ts")
    flow = db.execute(
        f"SELECT window_start, COUNT(*) AS n FROM {stream.name} WHERE {where} "
        "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    assert isinstance(flow, rillet.Flow)
    minute = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stream.append_many(
        [
            (minute + dt.timedelta(seconds=5), 1),
            (dt.datetime(2100, 1, 1, tzinfo=dt.UTC), 0),  # a bad clock's
            (minute + dt.timedelta(seconds=30), 1),
            (minute + dt.timedelta(seconds=70), 1),
        ]
    )
    flow.finish()
    found = [(round((r["window_start"] - minute).total_seconds()) // 60, r["n"]) for r in flow]
    assert (found, flow.late_events) == (expected, late)


def test_a_column_named_like_the_marks_is_a_column_like_any_other(db: rillet.Database) -> None:
    """The windows read a WHERE's marks under a name no column can have: a column called
    __kept is counted as the records' own, with or without a WHERE."""
    stream = db.create_stream(
        f"k{len(db.streams())}", "ts TIMESTAMP, __kept BOOLEAN, v BIGINT", time_column="ts"
    )
    minute = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    flows = [
        db.execute(
            f"SELECT COUNT(*) AS n, SUM(v) AS total FROM {stream.name} {where} "
            "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        for where in ("", "WHERE v < 3")
    ]
    stream.append_many([(minute + dt.timedelta(seconds=i), i % 2 == 1, i + 1) for i in range(3)])
    found = []
    for flow in flows:
        assert isinstance(flow, rillet.Flow)
        flow.finish()
        found.append([(r["n"], r["total"]) for r in flow])
    assert found == [[(3, 6)], [(2, 3)]]
