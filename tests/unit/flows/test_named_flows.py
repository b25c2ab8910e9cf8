"""Named flows (CREATE STREAM name AS SELECT): output stored as a stream, over history then
live, in dependency order, durable across close and reopen, checked at submission."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import datasketches as ds
import duckdb
import pyarrow as pa
import pytest

import rillet
from rillet.errors import (
    ConfigError,
    ConflictError,
    FlowError,
    NotFoundError,
    QueryError,
    RilletError,
    SchemaError,
)
from rillet.flows.flow import Flow
from rillet.flows.registry import FlowRegistry
from tests.property.cases import ranks
from tests.unit.support import wait_until

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MINUTELY = (
    "CREATE STREAM m AS SELECT host, window_start, count(*) AS n, sum(v) AS total "
    "FROM ev GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
)
HOURLY = (
    "CREATE STREAM h AS SELECT host, sum(n) AS n, sum(total) AS total "
    "FROM m GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
)


def events_at(indices: Iterable[int], step_s: int = 7) -> pa.Table:
    """The events numbered ``indices``: event ``i`` at ``i * step_s`` seconds past BASE,
    host ``h{i % 3}``, value ``i % 11``."""
    chosen = list(indices)
    return pa.table(
        {
            "ts": pa.array(
                [BASE + dt.timedelta(seconds=i * step_s) for i in chosen],
                pa.timestamp("us", tz="UTC"),
            ),
            "host": [f"h{i % 3}" for i in chosen],
            "v": [float(i % 11) for i in chosen],
        }
    )


def _events(first: int, count: int, step_s: int = 7) -> pa.Table:
    return events_at(range(first, first + count), step_s)


def _stream(db: rillet.Database) -> rillet.Stream:
    return db.create_stream("ev", "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE", time_column="ts")


def _expected_minutes(events: pa.Table) -> list[tuple[object, ...]]:
    """The closed 1-minute windows per host, by DuckDB over the same records."""
    return _duck(
        "SELECT host, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*), sum(v) FROM events "
        "GROUP BY ALL HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events) "
        "ORDER BY w, host",
        events=events,
    ).fetchall()


def _count(db: rillet.Database, name: str) -> int:
    """How many records stream ``name`` holds (0 while it does not exist)."""
    return len(db.stream(name)) if name in {s.name for s in db.streams()} else 0


def _minutes(db: rillet.Database) -> list[tuple[object, ...]]:
    query = "SELECT host, window_start, n, total FROM m ORDER BY window_start, host"
    return db.sql(query).fetchall()


def test_history_then_live_without_gap_or_double_count() -> None:
    with rillet.connect() as db:
        stream = _stream(db)
        first = _events(0, 3000)
        stream.append_many(first)
        appended = [first]

        def append_during_backfill() -> None:
            for k in range(10):
                batch = _events(3000 + k * 100, 100)
                stream.append_many(batch)
                appended.append(batch)

        writer = threading.Thread(target=append_during_backfill)
        writer.start()
        db.execute(MINUTELY)
        writer.join()
        events = pa.concat_tables(appended)
        expected = _expected_minutes(events)
        assert wait_until(lambda: len(db.stream("m")) == len(expected), 20)
        assert _minutes(db) == expected


def test_an_hourly_roll_up_over_a_minutely_one_has_all_its_minutes() -> None:
    with rillet.connect() as db:
        stream = _stream(db)
        db.execute(MINUTELY)
        db.execute(HOURLY)
        for k in range(20):  # 20 * 300 records * 7 s: about 11.7 hours, live
            stream.append_many(_events(k * 300, 300))
        events = _events(0, 6000)
        minutes = _expected_minutes(events)
        assert wait_until(lambda: len(db.stream("m")) == len(minutes), 20)
        mins = db.sql("SELECT host, window_start, n, total FROM m").arrow()
        expected = _duck(
            "SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) + INTERVAL 1 HOUR AS e, "
            "sum(n), sum(total) FROM mins GROUP BY ALL "
            "HAVING e <= (SELECT max(window_start) FROM mins) ORDER BY e, host",
            mins=mins,
        ).fetchall()
        assert expected
        assert wait_until(lambda: len(db.stream("h")) == len(expected), 20)
        assert (
            db.sql("SELECT host, timestamp, n, total FROM h ORDER BY timestamp, host").fetchall()
            == expected
        )


def test_a_roll_up_over_a_roll_up_names_its_own_window_bounds() -> None:
    """The minutely roll-up's output has a window_start column: an hourly one over it that
    names window_start and window_end gets its hour's bounds, unless it groups by the
    input's window_start, which it then names as that key."""
    with rillet.connect() as db:
        stream = _stream(db)
        db.execute(MINUTELY)
        db.execute(
            "CREATE STREAM h AS SELECT host, window_start, window_end AS upto, sum(n) AS n "
            "FROM m GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
        )
        db.execute(
            "CREATE STREAM k AS SELECT host, window_start, count(*) AS minutes FROM m "
            "GROUP BY host, window_start, TUMBLE(timestamp, INTERVAL '1' HOUR)"
        )
        events = _events(0, 2000)  # 2000 * 7 s: about 3.9 hours
        stream.append_many(events)
        assert wait_until(lambda: len(db.stream("m")) == len(_expected_minutes(events)), 20)
        mins = db.sql("SELECT host, window_start, n FROM m").arrow()
        closed = "HAVING e <= (SELECT max(window_start) FROM mins)"
        expected = _duck(
            "SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) AS s, "
            f"s + INTERVAL 1 HOUR AS e, sum(n) FROM mins GROUP BY ALL {closed} ORDER BY s, host",
            mins=mins,
        ).fetchall()
        assert expected
        assert wait_until(lambda: len(db.stream("h")) == len(expected), 20)
        got = db.sql("SELECT host, window_start, upto, n FROM h ORDER BY window_start, host")
        assert got.fetchall() == expected
        # grouped by the input's window_start: one row a minute, named by that minute
        assert wait_until(lambda: len(db.stream("k")) > 0, 20)
        rows = db.sql("SELECT host, window_start, minutes, timestamp FROM k").fetchall()
        assert all(n == 1 and start < end for _, start, n, end in rows)
        assert len({(host, start) for host, start, _, _ in rows}) == len(rows)


def test_reopen_resumes_without_doubling(tmp_path: Path) -> None:
    with rillet.connect(tmp_path) as db:
        _stream(db).append_many(_events(0, 1000))
        db.execute(MINUTELY)
        db.execute(HOURLY)
        assert wait_until(lambda: len(db.stream("m")) == len(_expected_minutes(_events(0, 1000))))
    with rillet.connect(tmp_path) as db:
        assert sorted(f.name or "" for f in db.flows()) == ["h", "m"]
        db.stream("ev").append_many(_events(1000, 1000))
        expected = _expected_minutes(_events(0, 2000))
        assert wait_until(lambda: len(db.stream("m")) == len(expected), 20)
        assert _minutes(db) == expected
    with rillet.connect(tmp_path) as db:  # nothing new: nothing more
        assert wait_until(lambda: len(db.flows()) == 2)
        assert _minutes(db) == expected


def test_a_named_flow_keeps_the_session_settings_it_was_created_under(tmp_path: Path) -> None:
    """``db.set`` before CREATE STREAM is part of the flow's definition: a reopened database
    (a new session) and a later ``db.set`` leave the flow as it was created."""

    def at(seconds: int) -> dict[str, Any]:
        return {"ts": [BASE + dt.timedelta(seconds=seconds)], "host": ["a"], "v": [1.0]}

    query = (
        "CREATE STREAM w AS SELECT window_start, count(*) AS n FROM ev "
        "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    with rillet.connect(tmp_path) as db:
        _stream(db)
        db.set("rillet.window.lateness", "30s")
        db.execute(query)
        db.set("rillet.window.lateness", "0s")  # for flows created after: not this one
        db.stream("ev").append_many(at(0))
        db.stream("ev").append_many(at(70))
    with rillet.connect(tmp_path) as db:
        db.stream("ev").append_many(at(50))  # 20 s behind the newest: within 30 s
        db.stream("ev").caught_up()
        rows = db.sql("SELECT n, is_open FROM w ORDER BY window_start", include_open=True)
        assert rows.fetchall() == [(2, True), (1, True)]
        assert len(db.stream("w.late")) == 0


def test_since_now_and_a_time() -> None:
    with rillet.connect() as db:
        stream = _stream(db)
        stream.append_many(_events(0, 600))
        db.execute(MINUTELY.replace("AS SELECT", "WITH (since = 'now') AS SELECT"))
        later = _events(600, 600)
        stream.append_many(later)
        expected = _expected_minutes(later)
        assert wait_until(lambda: len(db.stream("m")) == len(expected))
        assert _minutes(db) == expected
        since = BASE + dt.timedelta(seconds=600 * 7)
        db.execute(
            MINUTELY.replace("STREAM m", "STREAM m2").replace(
                "AS SELECT", f"WITH (since = '{since.isoformat()}') AS SELECT"
            )
        )
        assert wait_until(lambda: len(db.stream("m2")) == len(expected))


def test_roll_up_has_its_own_retention_and_partition() -> None:
    with rillet.connect() as db:
        _stream(db).append_many(_events(0, 100))
        db.execute(
            MINUTELY.replace("AS SELECT", "WITH (retention = '400d', partition = '1d') AS SELECT")
        )
        options = db.stream("m").options
        assert (options.retention, options.partition) == ("400d", "1d")


def test_show_flows_lists_named_flows() -> None:
    with rillet.connect() as db:
        _stream(db)
        db.execute(MINUTELY)
        assert "\tm\tCREATE STREAM m AS SELECT" in str(db.execute("SHOW FLOWS"))


def test_drop_stream_refused_while_a_named_flow_reads_it() -> None:
    with rillet.connect() as db:
        _stream(db)
        db.execute(MINUTELY)
        db.execute(HOURLY)
        with pytest.raises(ConflictError, match="named flow 'h'"):
            db.execute("DROP STREAM m")
        with pytest.raises(ConflictError, match="named flow 'm'"):
            db.drop_stream("ev")
        with pytest.raises(ConflictError, match="DROP STREAM h"):
            db.execute(f"DROP FLOW {db.flows()[-1].id}")
        db.execute("DROP STREAM h")
        db.execute("DROP STREAM m")
        assert [s.name for s in db.streams()] == ["ev"]
        assert db.flows() == []


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        (MINUTELY.replace("AS SELECT", "WITH (retension = '1d') AS SELECT"), ConfigError,
         "retension"),
        (MINUTELY.replace("FROM ev", "FROM nope"), NotFoundError, "nope"),
        (MINUTELY.replace("FROM ev", "FROM m"), QueryError, "cycle"),
        (MINUTELY.replace("AS SELECT", "WITH (since = '2030-01-01') AS SELECT"), ConfigError,
         "after the newest"),
        (MINUTELY.replace("AS SELECT", "WITH (since = 'soon') AS SELECT"), ConfigError, "since"),
        (MINUTELY.replace("AS SELECT", "WITH (retention = 'forever') AS SELECT"), RilletError,
         "retention"),
        (MINUTELY.replace("AS SELECT", "WITH (lateness = '0s', Lateness = '1h') AS SELECT"),
         ConfigError, "option 'lateness' given twice"),
        (MINUTELY.replace("count(*) AS n", "window_end - window_start AS n"), SchemaError,
         "column 'n' is INTERVAL, which a stream cannot keep"),
        (MINUTELY.replace("count(*) AS n", "NULL AS n"), SchemaError,
         "column 'n' is NULL, which a stream cannot keep"),
    ],
)  # fmt: skip
def test_bad_input_creates_nothing(
    tmp_path: Path, text: str, error: type[Exception], words: str
) -> None:
    with rillet.connect(tmp_path) as db:
        _stream(db).append_many(_events(0, 10))
        with pytest.raises(error, match=words):
            db.execute(text)
        assert [s.name for s in db.streams()] == ["ev"]
        assert db.flows() == []
        db.execute(MINUTELY)  # the name is free
    with rillet.connect(tmp_path) as db:  # and the folder opens as it was left
        assert [s.name for s in db.streams()] == ["ev", "m", "m.late"]


def test_late_records_are_kept_in_the_late_stream() -> None:
    with rillet.connect() as db:
        stream = _stream(db)
        db.execute(MINUTELY)
        stream.append_many(_events(0, 100))
        stream.append_many(_events(0, 1))  # its minute is out: late
        assert wait_until(lambda: "m.late" in {s.name for s in db.streams()})
        assert db.sql('SELECT host, v FROM "m.late"').fetchall() == [("h0", 0.0)]


def test_a_flow_over_a_stream_timed_by_timestamp_keeps_its_late_records() -> None:
    # a roll-up over a roll-up reads a stream whose time column is `timestamp`: the late
    # stream takes it as its time rather than adding a second `timestamp` (which failed the
    # flow at its first late record)
    with rillet.connect() as db:
        stream = db.create_stream("ev", "timestamp TIMESTAMP, v DOUBLE", time_column="timestamp")
        db.execute(
            "CREATE STREAM m AS SELECT count(*) AS n, sum(v) AS total FROM ev "
            "GROUP BY TUMBLE(timestamp, INTERVAL '1' MINUTE)"
        )
        minute = dt.timedelta(minutes=1)
        stream.append_many([(BASE + i * minute, float(i)) for i in range(10)])
        stream.append_many([(BASE + 2 * minute, 100.0)])  # minute 2 is out: late
        stream.append_many([(BASE + 11 * minute, 11.0)])  # the flow goes on: minute 9 out
        assert wait_until(lambda: len(db.stream("m")) == 10)
        assert db.sql('SELECT timestamp, v FROM "m.late"').fetchall() == [
            (BASE + 2 * minute, 100.0)
        ]
        assert db.stream("m.late").time_column == "timestamp"
        assert db.sql("SELECT sum(n), sum(total) FROM m").fetchall() == [(10, 45.0)]
        assert [f.name for f in db.flows()] == ["m"]


def _duck(query: str, **tables: pa.Table) -> duckdb.DuckDBPyRelation:
    """A DuckDB query over the Arrow ``tables``, by their names."""
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    relation = connection.sql(query)
    assert relation is not None
    return relation


def test_include_open_adds_the_open_windows_partial_rows() -> None:
    with rillet.connect() as db:
        stream = _stream(db)
        db.execute(MINUTELY)
        events = _events(0, 100)  # 700 s: minutes 0-10 closed, minute 11 open
        stream.append_many(events)
        closed = _expected_minutes(events)
        assert wait_until(lambda: len(db.stream("m")) == len(closed))
        query = "SELECT host, window_start, n, total, is_open FROM m ORDER BY window_start, host"
        assert db.sql(query).fetchall() == [(*row, False) for row in closed]
        everything = _duck(
            "SELECT host, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*), sum(v), "
            "w + INTERVAL 1 MINUTE > (SELECT max(ts) FROM events) FROM events GROUP BY ALL "
            "ORDER BY w, host",
            events=events,
        ).fetchall()
        assert db.sql(query, include_open=True).fetchall() == everything
        assert any(row[-1] for row in everything)


def test_refresh_recomputes_the_windows_of_late_records(tmp_path: Path) -> None:
    with rillet.connect(tmp_path) as db:
        stream = _stream(db)
        db.execute(MINUTELY)
        db.execute(HOURLY)
        early = _events(0, 100)
        stream.append_many(_events(100, 900))
        stream.append_many(early)  # every one of them late: their minutes are out
        events = pa.concat_tables([_events(100, 900), early])
        assert wait_until(lambda: _count(db, "m.late") == 100)
        assert _minutes(db) != _expected_minutes(events)
        db.execute("REFRESH STREAM m SINCE '2026-01-01'")
        expected = _expected_minutes(events)
        assert wait_until(lambda: len(db.stream("m")) == len(expected), 20)
        assert _minutes(db) == expected
        assert len(db.stream("m.late")) == 0  # emptied: every late record in its window
        hours = db.sql("SELECT host, sum(n) FROM h GROUP BY host ORDER BY host").fetchall()
        assert (
            hours
            == _duck(
                "SELECT host, count(*) FROM events WHERE ts < TIMESTAMPTZ '2026-01-01 01:00:00+00' "
                "GROUP BY host ORDER BY host",
                events=events,
            ).fetchall()
        )
    with rillet.connect(tmp_path) as db:  # the refreshed definition replays the same rows
        db.stream("ev").append_many(_events(1000, 100))
        expected = _expected_minutes(pa.concat_tables([events, _events(1000, 100)]))
        assert wait_until(lambda: len(db.stream("m")) == len(expected), 20)
        assert _minutes(db) == expected


def test_a_roll_up_keeps_its_own_retention_across_reopen(tmp_path: Path) -> None:
    hours = 6 * 3600 // 7  # six hours of records
    with rillet.connect(tmp_path, maintenance_interval=3600) as db:  # retention by hand
        _stream(db).append_many(_events(0, hours))
        db.execute(
            MINUTELY.replace("AS SELECT", "WITH (retention = '2h', partition = '1h') AS SELECT")
        )
        expected = _expected_minutes(_events(0, hours))
        assert wait_until(lambda: db.stream("m").next_offset == len(expected), 20)
        assert db.stream("m").apply_retention()
        kept = _minutes(db)
        assert kept == expected[len(expected) - len(kept) :]
        assert len(kept) < len(expected)
        assert len(db.sql("SELECT * FROM ev").fetchall()) == hours  # the input keeps all
    with rillet.connect(tmp_path, maintenance_interval=3600) as db:  # replay adds the new
        more = _events(hours, 600)
        db.stream("ev").append_many(more)
        everything = _expected_minutes(_events(0, hours + 600))
        assert wait_until(lambda: db.stream("m").next_offset == len(everything), 20)
        assert _minutes(db) == everything[len(expected) - len(kept) :]


def test_reopen_after_the_input_dropped_its_oldest_records(tmp_path: Path) -> None:
    hours = 6 * 3600 // 7
    with rillet.connect(tmp_path, maintenance_interval=3600) as db:
        db.create_stream(
            "ev",
            "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE",
            time_column="ts",
            partition="1h",
            retention="2h",
        ).append_many(_events(0, hours))
        db.execute(MINUTELY)
        before = _expected_minutes(_events(0, hours))
        assert wait_until(lambda: len(db.stream("m")) == len(before), 20)
        assert db.stream("ev").apply_retention()
    with rillet.connect(tmp_path, maintenance_interval=3600) as db:
        db.stream("ev").append_many(_events(hours, 600))
        everything = _expected_minutes(_events(0, hours + 600))
        assert wait_until(lambda: len(db.stream("m")) == len(everything), 20)
        assert _minutes(db) == everything


ROLLUP_2KEYS = (
    "CREATE STREAM r AS SELECT host, app, window_start, count(*) AS n, sum(v) AS total, "
    "max(v) AS top, distribution(v) AS dist FROM ev GROUP BY host, app, "
    "TUMBLE(ts, INTERVAL '1' MINUTE)"
)


def _has_rows(db: rillet.Database, name: str, count: int) -> bool:
    return len(db.stream(name)) == count


def _two_key_events(count: int) -> pa.Table:
    events = _events(0, count, step_s=3)
    return events.append_column("app", pa.array([f"a{(i * 7) % 4}" for i in range(count)]))


def test_a_roll_up_is_the_same_whatever_batches_its_input_came_in() -> None:
    """History in one bulk read and live records in batches of 1 to 97 give the same rows,
    sketch bytes included, as DuckDB's counts and sums."""
    events = _two_key_events(1_500)
    schema = "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE, app STRING"
    query = "SELECT host, app, window_start, n, total, top, dist FROM r ORDER BY ALL"
    results = []
    for bulk in (True, False):
        with rillet.connect() as db:
            stream = db.create_stream("ev", schema, time_column="ts")
            if bulk:
                stream.append_many(events)
                db.execute(ROLLUP_2KEYS)
            else:
                db.execute(ROLLUP_2KEYS)
                start, size = 0, 1
                while start < events.num_rows:
                    stream.append_many(events.slice(start, size))
                    start, size = start + size, size % 97 + 1
            expected = _duck(
                "SELECT count(*) FROM (SELECT host, app, time_bucket(INTERVAL 1 MINUTE, ts) AS w "
                "FROM events GROUP BY ALL "
                "HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events))",
                events=events,
            ).fetchall()[0][0]
            assert wait_until(partial(_has_rows, db, "r", expected), 20)
            results.append(db.sql(query).fetchall())
    sums = _duck(
        "SELECT host, app, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*), sum(v), max(v) "
        "FROM events GROUP BY ALL HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events) "
        "ORDER BY ALL",
        events=events,
    ).fetchall()
    assert results[0] == results[1]
    assert [row[:6] for row in results[0]] == sums


def test_float_sums_and_distinct_counts_are_the_same_whatever_batches_their_input_came_in() -> None:
    """SUM and AVG of doubles whose plain float sums depend on the order they are added in:
    in one bulk read and in batches of 1 to 97, the same bits, those of the exact sums.  The
    APPROX_COUNT_DISTINCT states (about 150 values: a hash set of coupons) are the same bytes,
    and so are their merges over the day, in either order."""
    count = 3_000  # ten a second: about 150 values in each group of a minute
    events = pa.table(
        {
            "ts": pa.array(
                [BASE + dt.timedelta(milliseconds=100 * i) for i in range(count)],
                pa.timestamp("us", tz="UTC"),
            ),
            "host": [f"h{i % 2}" for i in range(count)],
            "v": [0.1 * (i % 13) + 1e-9 * i - 0.3 * (i % 5) for i in range(count)],
            "app": [f"a{(i // 2) % 2}" for i in range(count)],
        }
    )
    schema = "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE, app STRING"
    rollup = (
        "CREATE STREAM r AS SELECT host, app, window_start, sum(v) AS total, avg(v) AS mean, "
        "approx_count_distinct(v) AS values FROM ev GROUP BY host, app, "
        "TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    merges = (
        "SELECT host, app, hll_merge(list(values ORDER BY window_start)), "
        "hll_merge(list(values ORDER BY window_start DESC)) FROM r GROUP BY ALL ORDER BY ALL"
    )
    images = []
    groups: dict[tuple[object, ...], list[float]] = {}
    rows = events.to_pylist()
    last = max(row["ts"] for row in rows)
    for row in rows:
        start = row["ts"].replace(second=0, microsecond=0)
        if start + dt.timedelta(minutes=1) <= last:
            groups.setdefault((row["host"], row["app"], start), []).append(row["v"])
    exact = sorted((*k, math.fsum(v), math.fsum(v) / len(v)) for k, v in groups.items())
    plain = sorted((*k, sum(v), sum(v) / len(v)) for k, v in groups.items())
    assert exact != plain  # the values are such that the order of adding matters
    for size in (events.num_rows, 1):
        with rillet.connect() as db:
            stream = db.create_stream("ev", schema, time_column="ts")
            db.execute(rollup)
            start, step = 0, size
            while start < events.num_rows:
                stream.append_many(events.slice(start, step))
                start, step = start + step, (step if size > 1 else step % 97 + 1)
            assert wait_until(partial(_has_rows, db, "r", len(exact)), 20)
            got = db.sql("SELECT host, app, window_start, total, mean FROM r ORDER BY ALL")
            assert got.fetchall() == exact
            states = db.sql(
                "SELECT values, hll_count(values) FROM r ORDER BY host, app, window_start"
            )
            images.append(states.fetchall())
            for _, _, forward, backward in db.sql(merges).fetchall():
                assert forward == backward
    assert images[0] == images[1]
    distinct = [len(set(v)) for _, v in sorted(groups.items())]
    assert [count for _, count in images[0]] == distinct  # exact while so few


def _at(minutes: float, host: str = "h0") -> pa.Table:
    when = BASE + dt.timedelta(minutes=minutes)
    return pa.table(
        {"ts": pa.array([when], pa.timestamp("us", tz="UTC")), "host": [host], "v": [1.0]}
    )


def test_idle_timeout_closes_the_same_windows_after_a_reopen(tmp_path: Path) -> None:
    """Windows an idle input closed by the wall clock stay closed in the replay after a
    reopen: the records late then stay late (in m.late, none lost), none counts again."""
    now = [(BASE + dt.timedelta(hours=1)).timestamp()]
    clock = lambda: now[0]  # noqa: E731
    query = MINUTELY.replace("AS SELECT", "WITH (idle_timeout = '1s') AS SELECT")
    with rillet.connect(tmp_path, clock=clock) as db:
        stream = _stream(db)
        db.execute(query)
        stream.append_many(pa.concat_tables([_at(0.0), _at(0.5, "h1")]))

        def idle_closes() -> bool:
            now[0] += 0.5  # the wall clock moves, the input stays idle
            return len(db.stream("m")) == 2

        assert wait_until(idle_closes, 10)
        stream.append_many(_at(0.9))  # behind the wall clock: late
        stream.append_many(_at(1.2))
        assert wait_until(lambda: _count(db, "m.late") == 2)
        closed = _minutes(db)
        assert closed == [(f"h{i}", BASE, 1, 1.0) for i in range(2)]
    with rillet.connect(tmp_path, clock=clock) as db:
        stream = db.stream("ev")
        stream.append_many(_at(0.95))  # still late: the watermark is the wall clock's
        stream.append_many(_at(120.0))  # after the wall clock: opens a window
        assert wait_until(lambda: _count(db, "m.late") == 3)
        time.sleep(0.3)  # a replay that differs would have written more by now
        assert _minutes(db) == closed
        late = db.sql('SELECT ts FROM "m.late" ORDER BY ts').fetchall()
        assert [row[0] for row in late] == [
            BASE + dt.timedelta(minutes=m) for m in (0.9, 0.95, 1.2)
        ]


# -- a named flow that fails ------------------------------------------------------------

OVERFLOWING = "CREATE STREAM big AS SELECT v * 4611686018427387904 AS b FROM nums"  # v * 2**62
NUMS_MINUTELY = (
    "CREATE STREAM per_min AS SELECT window_start, count(*) AS n, sum(v) AS total "
    "FROM nums GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
)


def _nums(values: list[int], first_s: int) -> pa.Table:
    """Records of ``values``, one a second from ``first_s`` seconds past BASE."""
    return pa.table(
        {
            "ts": pa.array(
                [BASE + dt.timedelta(seconds=first_s + i) for i in range(len(values))],
                pa.timestamp("us", tz="UTC"),
            ),
            "v": pa.array(values, pa.int64()),
        }
    )


def _listed(db: rillet.Database) -> dict[str, tuple[str, str | None]]:
    """The named flows db.flows() lists: name -> (state, error)."""
    return {f.name: (f.state, f.error) for f in db.flows() if f.name is not None}


def _per_min(db: rillet.Database) -> list[tuple[object, ...]]:
    return db.sql("SELECT window_start, n, total FROM per_min ORDER BY window_start").fetchall()


def test_a_named_flow_failing_at_run_time_stays_listed_with_its_error(tmp_path: Path) -> None:
    """An expression error the checks cannot see (an overflow, for some values only) fails
    the named flow: it stays listed as failed with its error, across a reopen (which does
    not run it again), its stored rows kept, the other named flows running; REFRESH
    restarts it (the same records fail it again), DROP STREAM removes it."""
    error = "ArrowInvalid: overflow (on the records at offsets 3..4 of stream 'nums')"
    with rillet.connect(tmp_path) as db:
        nums = db.create_stream("nums", "ts TIMESTAMP NOT NULL, v BIGINT", time_column="ts")
        db.execute(OVERFLOWING)
        db.execute(NUMS_MINUTELY)
        nums.append_many(_nums([0, 0, 0], 0))
        assert wait_until(lambda: _count(db, "big") == 3)
        nums.append_many(_nums([5, 1], 3))  # 5 * 2**62 overflows BIGINT
        assert wait_until(lambda: _listed(db)["big"][0] == "failed")
        assert _listed(db) == {"big": ("failed", error), "per_min": ("running", None)}
        shown = str(db.execute("SHOW FLOWS"))
        assert f"\tbig\t{OVERFLOWING}\tfailed\t{error}" in shown
        assert f"\tper_min\t{NUMS_MINUTELY}\trunning\t" in shown
        nums.append_many(_nums([2], 60))  # the other flow goes on: closes minute 0
        assert wait_until(lambda: _per_min(db) == [(BASE, 5, 6)])
    with rillet.connect(tmp_path) as db:
        assert _listed(db) == {"big": ("failed", error), "per_min": ("running", None)}
        assert db.sql("SELECT b FROM big").fetchall() == [(0,), (0,), (0,)]  # rows kept
        db.stream("nums").append_many(_nums([3], 120))
        minutes = [(BASE, 5, 6), (BASE + dt.timedelta(minutes=1), 1, 2)]
        assert wait_until(lambda: _per_min(db) == minutes)
        db.execute("REFRESH STREAM big")  # starts again, and fails on the same records
        assert wait_until(lambda: _listed(db)["big"][0] == "failed")
        # (the replay reads them in other batches: the offsets told may be others)
        assert (_listed(db)["big"][1] or "").startswith("ArrowInvalid: overflow (on the records")
        assert db.sql("SELECT count(*) FROM big").fetchall() == [(3,)]
        db.execute("DROP STREAM big")
        assert _listed(db) == {"per_min": ("running", None)}
        assert "big" not in {s.name for s in db.streams()}
    with rillet.connect(tmp_path) as db:
        assert _listed(db) == {"per_min": ("running", None)}
        assert _per_min(db) == minutes


def test_a_named_flow_failing_before_its_start_returns_stays_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its stored input fails it at once, on its catch-up thread, while the statement that
    starts it has not returned yet: it is listed as failed all the same."""
    original = FlowRegistry.start

    def slow(self: FlowRegistry, make: Any, run: bool = True) -> Flow:
        flow = original(self, make, run)
        assert wait_until(lambda: flow.state != "running")  # failed before this returns
        return flow

    monkeypatch.setattr(FlowRegistry, "start", slow)
    with rillet.connect() as db:
        nums = db.create_stream("nums", "ts TIMESTAMP NOT NULL, v BIGINT", time_column="ts")
        nums.append_many(_nums([5], 0))
        db.execute(OVERFLOWING)
        error = "ArrowInvalid: overflow (on the records at offsets 0..0 of stream 'nums')"
        assert _listed(db) == {"big": ("failed", error)}


def test_refresh_is_refused_while_a_named_flow_reading_it_failed() -> None:
    with rillet.connect() as db:
        nums = db.create_stream("nums", "ts TIMESTAMP NOT NULL, v BIGINT", time_column="ts")
        db.execute(NUMS_MINUTELY)
        db.execute("CREATE STREAM big AS SELECT n * 4611686018427387904 AS b FROM per_min")
        nums.append_many(_nums([1, 1], 0))
        nums.append_many(_nums([1], 60))  # minute 0 out: n = 2 overflows in big
        assert wait_until(lambda: _listed(db)["big"][0] == "failed")
        with pytest.raises(ConflictError, match="'big' reading it failed .*REFRESH STREAM big"):
            db.execute("REFRESH STREAM per_min SINCE '2026-01-01'")
        assert _listed(db)["per_min"] == ("running", None)  # nothing changed


def _rename_column(folder: Path, stream: str, schema: str) -> None:
    """Change a stream's schema in the catalog, as a later version or a hand could."""
    catalog = sqlite3.connect(folder / "catalog.sqlite")
    with catalog:
        catalog.execute("UPDATE streams SET schema = ? WHERE name = ?", (schema, stream))
    catalog.close()


def test_a_named_flow_that_cannot_resume_is_listed_failed_and_the_database_opens(
    tmp_path: Path,
) -> None:
    """A named flow whose plan no longer builds at open (its input stream changed) does
    not keep the database closed: it is listed as failed with its error, its rows kept,
    the named flow reading it and the others running; REFRESH restarts it once it can."""
    with rillet.connect(tmp_path) as db:
        nums = db.create_stream("nums", "ts TIMESTAMP NOT NULL, v BIGINT", time_column="ts")
        _stream(db).append_many(_events(0, 300))
        db.execute(NUMS_MINUTELY)
        db.execute(MINUTELY)
        db.execute(HOURLY)  # reads m
        nums.append_many(_nums([1, 2, 3], 0))
        nums.append_many(_nums([4], 60))
        assert wait_until(lambda: _per_min(db) == [(BASE, 3, 6)])
        assert wait_until(lambda: _minutes(db) == _expected_minutes(_events(0, 300)))
    _rename_column(tmp_path, "nums", "ts TIMESTAMP NOT NULL, w BIGINT")
    error = "cannot start: unknown column 'v' at 1:"
    for _ in range(2):  # the failure is kept: a second reopen lists it the same way
        with rillet.connect(tmp_path) as db:
            state, text = _listed(db)["per_min"]
            assert state == "failed" and text is not None and text.startswith(error)
            assert _per_min(db) == [(BASE, 3, 6)]  # its rows stay
            assert {n: s for n, (s, _) in _listed(db).items()} == {
                "per_min": "failed", "m": "running", "h": "running",
            }  # fmt: skip
            with pytest.raises(FlowError, match="REFRESH STREAM per_min: .*unknown column 'v'"):
                db.execute("REFRESH STREAM per_min")
            assert _listed(db)["per_min"][0] == "failed"
            with pytest.raises(ConflictError, match="named flow 'per_min'"):
                db.drop_stream("nums")  # it still reads nums
    _rename_column(tmp_path, "nums", "ts TIMESTAMP NOT NULL, v BIGINT")
    with rillet.connect(tmp_path) as db:
        assert _listed(db)["per_min"][0] == "failed"  # until REFRESH, never by itself
        db.execute("REFRESH STREAM per_min")
        assert _listed(db)["per_min"] == ("running", None)
        db.stream("nums").append_many(_nums([5], 120))  # closes minute 1, counted once
        minutes = [(BASE, 3, 6), (BASE + dt.timedelta(minutes=1), 1, 4)]
        assert wait_until(lambda: _per_min(db) == minutes)
        time.sleep(0.2)
        assert _per_min(db) == minutes


# -- idle marks under the input's retention -------------------------------------------


def _idle_marks(db: rillet.Database, name: str) -> list[int]:
    """The input offsets of the idle marks named flow ``name``'s definition keeps."""
    (entry,) = [e for e in db._catalog.named_flows() if e.name == name]
    return [at for at, _ in entry.options.get("idle_marks", [])]


def _idle_then_retention(db: rillet.Database, now: list[float]) -> None:
    """Two idle advances while the input's first hour is stored, late records after the
    second one (in the first hour and in the second), a record three hours on, then the
    input's retention (2h) drops its first hour: the marks at offsets 1 and 2 are before
    the first offset kept (3, the record at 01:05)."""
    stream = db.create_stream(
        "ev",
        "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE",
        time_column="ts",
        partition="1h",
        retention="2h",
    )
    db.execute(MINUTELY.replace("AS SELECT", "WITH (idle_timeout = '1s') AS SELECT"))

    def idle_until(rows: int) -> bool:
        now[0] += 0.5  # the wall clock moves, the input stays idle
        return len(db.stream("m")) == rows

    now[0] = (BASE + dt.timedelta(minutes=10)).timestamp()
    stream.append_many(_at(0.0))  # offset 0
    assert wait_until(partial(idle_until, 1))  # mark (1, ~00:10): closes 00:00
    stream.append_many(_at(30.0, "h1"))  # offset 1: after the watermark
    now[0] = (BASE + dt.timedelta(minutes=90)).timestamp()
    assert wait_until(partial(idle_until, 2))  # mark (2, ~01:30): closes 00:30
    stream.append_many(_at(40.0))  # offset 2: late (first hour)
    stream.append_many(_at(65.0))  # offset 3: late only by that mark (second hour)
    assert wait_until(lambda: _count(db, "m.late") == 2)
    stream.append_many(_at(185.0))  # offset 4: opens 03:05
    open_rows = "SELECT window_start FROM m WHERE is_open"
    later = [(BASE + dt.timedelta(minutes=185),)]
    assert wait_until(lambda: db.sql(open_rows, include_open=True).fetchall() == later)
    hour = int(BASE.timestamp()) * 1_000_000
    assert db.stream("ev").apply_retention() == [hour]
    assert [p.min_offset for p in db.stream("ev").partitions() if p.rows] == [3, 4]


def _late(db: rillet.Database) -> list[tuple[object, ...]]:
    return db.sql('SELECT ts, host FROM "m.late" ORDER BY ts').fetchall()


def test_idle_marks_before_the_inputs_retention_cut_are_pruned(tmp_path: Path) -> None:
    """The next idle advance after a retention drop keeps, of the marks before the first
    offset kept, only the last."""
    now = [0.0]
    with rillet.connect(tmp_path, clock=lambda: now[0], maintenance_interval=3600) as db:
        _idle_then_retention(db, now)
        assert _idle_marks(db, "m") == [1, 2]
        now[0] = (BASE + dt.timedelta(minutes=200)).timestamp()

        def idle_closes() -> bool:
            now[0] += 0.5
            return len(db.stream("m")) == 3  # 03:05 closed by the wall clock

        assert wait_until(idle_closes)
        assert _idle_marks(db, "m") == [2, 5]


def test_a_replay_after_pruning_gives_an_uninterrupted_runs_output(tmp_path: Path) -> None:
    """Reopened after the retention drop, the flow keeps only the last mark before the
    first offset kept, and replays from there: the record at 01:05 is late again (the
    mark moved the watermark past it before it is counted), so the output and the late
    records equal those of a run never interrupted.  (Without that mark the replay would
    count it and add a row for the minute 01:05.)"""
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    with rillet.connect(clock=clock, maintenance_interval=3600) as db:  # never interrupted
        _idle_then_retention(db, now)
        db.stream("ev").append_many(_at(250.0))  # closes 03:05
        assert wait_until(lambda: len(db.stream("m")) == 3)
        time.sleep(0.2)
        expected, late = _minutes(db), _late(db)
    assert [row[1] for row in expected] == [BASE + dt.timedelta(minutes=m) for m in (0, 30, 185)]
    assert late == [(BASE + dt.timedelta(minutes=m), "h0") for m in (40, 65)]
    with rillet.connect(tmp_path, clock=clock, maintenance_interval=3600) as db:
        _idle_then_retention(db, now)
    with rillet.connect(tmp_path, clock=clock, maintenance_interval=3600) as db:
        assert _idle_marks(db, "m") == [2]  # pruned as the flow resumed
        db.stream("ev").append_many(_at(250.0))
        assert wait_until(lambda: len(db.stream("m")) == 3)
        time.sleep(0.3)  # a replay that differs would have written more by now
        assert _minutes(db) == expected
        assert _late(db) == late


def _text_events(count: int) -> pa.Table:
    """Events 3 s apart with text that has NULLs, every 50th a minute and a half late."""
    seconds = [i * 3 - (90 if i % 50 == 49 else 0) for i in range(count)]
    return pa.table(
        {
            "ts": pa.array(
                [BASE + dt.timedelta(seconds=s) for s in seconds], pa.timestamp("us", tz="UTC")
            ),
            "host": [None if i % 13 == 0 else f"h{i % 5}" for i in range(count)],
            "v": [float(i % 17) for i in range(count)],
            "app": [None if i % 11 == 0 else f"a{(i * 7) % 4}" for i in range(count)],
        }
    )


BY_APP = (
    "CREATE STREAM by_app AS SELECT host, app, window_start, count(*) AS n, sum(v) AS total, "
    "distribution(v) AS dist FROM ev GROUP BY host, app, TUMBLE(ts, INTERVAL '1' MINUTE)"
)
APPS = (
    "CREATE STREAM apps AS SELECT host, window_start, count(app) AS n, min(app) AS least, "
    "approx_count_distinct(app) AS distinct_apps FROM ev WHERE app <> 'a3' "
    "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
)


def test_a_roll_up_over_sealed_files_equals_one_over_memory(tmp_path: Path) -> None:
    """History in sealed files reaches a flow's windows dictionary-encoded, as the files
    hold it (row groups of 100 under one dictionary per batch): the roll-ups and their
    late records equal those of the same history read from memory, row for row, and so
    does a REFRESH (its history held and put in time order before it is pushed)."""
    events = _text_events(3_000)
    schema = "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE, app STRING"
    every = set(
        _duck(
            "SELECT host, app, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*) FROM events "
            "GROUP BY ALL HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events)",
            events=events,
        ).fetchall()
    )
    results = []
    for sealed in (True, False):
        folder = tmp_path / "sealed" if sealed else None
        with rillet.connect(folder, row_group_rows=100) as db:
            stream = db.create_stream("ev", schema, time_column="ts", partition="1h")
            stream.append_many(events)
            if sealed:
                assert stream.seal(everything=True) >= 2
                assert all(p.parquet_path for p in stream.partitions())
            db.execute(BY_APP)
            db.execute(APPS)
            assert wait_until(lambda: all(not f.lag for f in db.flows()), 20)  # noqa: B023
            results.append(
                [
                    db.sql(f'SELECT * EXCLUDE (timestamp) FROM "{name}"').fetchall()
                    for name in ("by_app", "apps", "by_app.late", "apps.late")
                ]
            )
            db.execute("REFRESH STREAM by_app")  # the late records counted after all
            assert wait_until(
                lambda: {r[:4] for r in db.sql("SELECT * FROM by_app").fetchall()} == every,  # noqa: B023
                20,
            )
            results[-1].append(db.sql("SELECT * EXCLUDE (timestamp) FROM by_app").fetchall())
    assert results[0] == results[1]
    by_app, apps, late, _, _ = results[0]
    assert len(late) == len(range(49, 3_000, 50))
    kept = events.append_column("i", pa.array(range(3_000)))
    assert {row[:4] for row in by_app} == set(
        _duck(
            "SELECT host, app, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*) FROM events "
            "WHERE i % 50 != 49 GROUP BY ALL "
            "HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events)",
            events=kept,
        ).fetchall()
    )
    assert len(apps) > 100


def test_the_late_records_stream_is_the_named_flows_own() -> None:
    """``<name>.late`` is where the flow keeps its late records: a stream of that name
    already there refuses the flow, and while the flow is there no one else makes that
    stream or drops it (each a ConflictError naming the flow, nothing changed)."""
    query = (
        "CREATE STREAM m AS SELECT host, count(*) AS n FROM ev "
        "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    with rillet.connect() as db:
        ev = _stream(db)
        db.create_stream("m.late", "note STRING")
        with pytest.raises(ConflictError, match="'m.late' already exists: the named flow 'm'"):
            db.execute(query)
        assert sorted(s.name for s in db.streams()) == ["ev", "m.late"] and not db.flows()
        db.drop_stream("m.late")
        db.execute(query)
        for make in (
            lambda: db.create_stream("m.late", "note STRING"),
            lambda: db.execute('CREATE STREAM "m.late" (note STRING)'),
        ):
            with pytest.raises(ConflictError, match="late records of the named flow 'm'"):
                make()
        # made with the flow, empty until a record is late; its columns are the records'
        assert db.sql('SELECT count(*) FROM "m.late"').fetchall() == [(0,)]
        assert str(db.stream("m.late").schema) == str(ev.schema) + ", timestamp TIMESTAMP NOT NULL"
        ev.append_many(events_at([20, 0]))  # the second is late
        assert wait_until(lambda: len(db.stream("m.late")) == 1)
        for drop in (lambda: db.drop_stream("m.late"), lambda: db.execute('DROP STREAM "m.late"')):
            with pytest.raises(ConflictError, match="DROP STREAM m drops both"):
                drop()
        ev.append_many(events_at([1]))  # late again: kept, the flow still running
        assert wait_until(lambda: len(db.stream("m.late")) == 2)
        assert [f.state for f in db.flows()] == ["running"]
        db.drop_stream("m")
        assert [s.name for s in db.streams()] == ["ev"]


def test_since_counts_a_record_still_in_the_append_buffer() -> None:
    with rillet.connect() as db:
        ev = _stream(db)
        ev.append((BASE, "a", 1.0))  # acknowledged; maybe in the buffer still
        db.execute(
            f"CREATE STREAM m WITH (since = '{BASE.isoformat()}') AS SELECT count(*) AS n "
            "FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        assert [f.name for f in db.flows()] == ["m"]


def test_a_quoted_name_keeps_its_case_as_create_stream_keeps_it() -> None:
    with rillet.connect() as db:
        _stream(db)
        db.execute(
            'CREATE STREAM "PerMin" AS SELECT host, count(*) AS n FROM ev '
            "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        assert [s.name for s in db.streams()] == ["PerMin", "PerMin.late", "ev"]
        for read in ('"PerMin"', "PerMin", "permin"):  # SQL names it in any case
            assert db.sql(f"SELECT count(*) FROM {read}").fetchall() == [(0,)]
        with pytest.raises(ConflictError, match="'PerMin' already exists"):
            db.execute("CREATE STREAM permin AS SELECT host FROM ev")
        db.execute('DROP STREAM "PerMin"')
        assert [s.name for s in db.streams()] == ["ev"] and not db.flows()


def test_the_late_records_stream_name_is_kept_in_any_case() -> None:
    with rillet.connect() as db:
        ev = _stream(db)
        db.execute(
            'CREATE STREAM "PerMin" AS SELECT host, count(*) AS n FROM ev '
            "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        other = db.execute("SELECT host FROM ev")
        for make in (
            lambda: db.create_stream("permin.LATE", "note STRING"),
            lambda: db.execute('CREATE STREAM "PERMIN.late" (note STRING)'),
            lambda: db.name_flow(other.id, "PerMin.late"),
        ):
            with pytest.raises(ConflictError, match="late records of the named flow 'PerMin'"):
                make()
        ev.append_many(events_at([20, 0]))  # the second is late
        assert wait_until(lambda: "PerMin.late" in {s.name for s in db.streams()})
        # the hint quotes the name as rtsql reads it back
        with pytest.raises(ConflictError, match='DROP STREAM "PerMin" drops both'):
            db.drop_stream("PerMin.late")
        assert db.sql('SELECT count(*) FROM "perMIN.late"').fetchall() == [(1,)]


def test_a_read_after_a_reopen_waits_for_named_flows_in_their_order(tmp_path: Path) -> None:
    """The streams reopen by name (hourly before minutely): a db.sql right after an append
    sees what the minutely flow made of it and then what the hourly one made of that."""
    with rillet.connect(tmp_path) as db:
        db.create_stream("perf", "ts TIMESTAMP, host STRING, ms DOUBLE", time_column="ts")
        db.execute(
            "CREATE STREAM minutely AS SELECT host, window_start, count(*) AS n FROM perf "
            "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        db.execute(
            "CREATE STREAM hourly AS SELECT host, window_start, sum(n) AS n FROM minutely "
            "GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
        )
    with rillet.connect(tmp_path) as db:
        perf = db.stream("perf")
        for h in range(12):
            hour = BASE + dt.timedelta(hours=h)
            rows = [(hour + dt.timedelta(minutes=m), "a", 1.0) for m in range(60)]
            # the next hour's first minute, out once a record past it comes: the hour closes
            rows += [(hour + dt.timedelta(minutes=60 + m, seconds=10), "a", 1.0) for m in (0, 1)]
            perf.append_many(rows)
            assert db.sql("SELECT count(*) FROM hourly").fetchall() == [(h + 1,)]


def test_include_open_reads_a_window_closing_under_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A window that closes between the open rows being taken and the stored ones being
    read comes once, as it was open: not also as the closed row stored meanwhile."""
    from rillet.flows.named import NamedFlows

    with rillet.connect() as db:
        ev = _stream(db)
        db.execute(MINUTELY)
        ev.append_many(events_at([0, 1]))  # one open minute, of host h0 and h1
        taken = NamedFlows.open_tables

        def then_closed(self: NamedFlows, names: list[str]) -> Any:
            found = taken(self, names)
            ev.append_many(events_at([20]))  # 140 s: the minute closes, its rows are stored
            ev.caught_up()
            return found

        monkeypatch.setattr(NamedFlows, "open_tables", then_closed)
        rows = db.sql("SELECT host, n, is_open FROM m ORDER BY ALL", include_open=True)
        assert rows.fetchall() == [("h0", 1, True), ("h1", 1, True)]
        monkeypatch.undo()
        assert db.sql("SELECT host, n, is_open FROM m ORDER BY ALL").fetchall() == [
            ("h0", 1, False),
            ("h1", 1, False),
        ]


def test_the_late_records_stream_is_made_with_a_flow_that_has_windows() -> None:
    """A roll-up over a roll-up keeps its late rows with their own ``timestamp``; a flow
    without windows has no late records, and reading ``<name>.late`` says so."""
    with rillet.connect() as db:
        _stream(db)
        db.execute(
            "CREATE STREAM m AS SELECT host, window_start, count(*) AS n FROM ev "
            "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        db.execute(
            "CREATE STREAM h AS SELECT host, sum(n) AS n FROM m "
            "GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
        )
        db.execute("CREATE STREAM f AS SELECT host, v FROM ev WHERE v > 1")
        assert str(db.stream("h.late").schema) == str(db.stream("m").schema)
        assert sorted(s.name for s in db.streams()) == ["ev", "f", "h", "h.late", "m", "m.late"]
        with pytest.raises(NotFoundError, match="named flow 'f' keeps none \\(a flow with TUMBLE"):
            db.sql('SELECT * FROM "f.late"')
        db.drop_stream("h")
        assert sorted(s.name for s in db.streams()) == ["ev", "f", "m", "m.late"]


def test_a_roll_up_over_a_stream_stamped_with_arrival_time() -> None:
    """Its windows read ``timestamp``, the records' own time; ``<name>.late`` keeps that as
    its ``timestamp``, not the stream's reserved ``_time``."""
    with rillet.connect() as db:
        ev = db.create_stream("ev", "k BIGINT, v BIGINT")
        db.execute(
            "CREATE STREAM m AS SELECT count(*) AS n, sum(v) AS total FROM ev "
            "GROUP BY TUMBLE(timestamp, INTERVAL '1' HOUR)"
        )
        assert str(db.stream("m.late").schema) == "k BIGINT, v BIGINT, timestamp TIMESTAMP NOT NULL"
        ev.append_many([(1, 2), (3, 4)])
        rows = db.sql("SELECT n, total, is_open FROM m", include_open=True).fetchall()
        assert rows == [(2, 6, True)] and [f.state for f in db.flows()] == ["running"]


@pytest.mark.parametrize(
    "window", ["TUMBLE(t2, INTERVAL '1' MINUTE)", "SESSION(t2, INTERVAL '30' SECOND)"]
)
def test_a_record_of_no_window_time_is_counted_dropped(window: str) -> None:
    """A NULL in the windows' time column puts the record in no window: it is counted in
    ``dropped_events`` (not late: it has no time to be late by), not silently lost."""
    with rillet.connect() as db:
        ev = db.create_stream("ev", "ts TIMESTAMP, t2 TIMESTAMP, v BIGINT", time_column="ts")
        db.execute(f"CREATE STREAM m AS SELECT count(*) AS n FROM ev GROUP BY {window}")
        ev.append_many(
            [("2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", 1),
             ("2024-03-01T00:00:01Z", None, 2),
             ("2024-03-01T00:00:02Z", "2024-03-01T00:05:00Z", 3)]
        )  # fmt: skip
        assert db.sql("SELECT sum(n) FROM m", include_open=True).fetchall() == [(2,)]
        [flow] = db.flows()
        assert (flow.late_events, flow.dropped_events, len(db.stream("m.late"))) == (0, 1, 0)


@pytest.mark.parametrize(
    ("column", "big"), [("INT", 2**31 - 1), ("BIGINT", 2**63 - 1), ("FLOAT", 3e38)]
)
def test_a_sum_past_its_type_fails_the_flow_naming_it(column: str, big: int) -> None:
    """SUM keeps its argument's type (rtsql's signature): a window's total past it fails
    the flow with an error naming SUM and the type, not Arrow's or Python's words alone."""
    with rillet.connect() as db:
        ev = db.create_stream("ev", f"ts TIMESTAMP, i {column}", time_column="ts")
        db.execute(
            "CREATE STREAM m AS SELECT sum(i) AS total FROM ev "
            "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        ev.append_many([(BASE, big), (BASE, big), (BASE + dt.timedelta(hours=1), 1)])
        [flow] = db.flows()
        assert wait_until(lambda: flow.state == "failed")
        assert str(flow.error).startswith(f"SUM: a window's result overflows its type {column} (")


def test_late_records_of_an_input_with_a_timestamp_column_of_its_own() -> None:
    """A STRING ``timestamp`` of the input stays the input's: ``<name>.late`` keeps the
    records' time as ``_timestamp``, and REFRESH reads it there."""
    with rillet.connect() as db:
        ev = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, timestamp STRING, v BIGINT", time_column="ts"
        )
        db.execute(
            "CREATE STREAM m AS SELECT window_start, count(*) AS n FROM ev "
            "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        late = db.stream("m.late")
        assert str(late.schema) == (
            "ts TIMESTAMP NOT NULL, timestamp STRING, v BIGINT, _timestamp TIMESTAMP NOT NULL"
        )
        at = ["2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", "2024-01-01T00:00:30Z"]
        ev.append_many([(at[0], "a", 1), (at[1], "b", 2), (at[2], "c", 3)])  # the third: late
        assert wait_until(lambda: len(late) == 1)
        assert db.sql('SELECT timestamp, v FROM "m.late"').fetchall() == [("c", 3)]
        db.execute("REFRESH STREAM m")
        assert db.sql("SELECT n FROM m ORDER BY window_start").fetchall() == [(2,)]


def test_a_named_flow_over_a_stream_of_its_own_name_is_refused_as_existing() -> None:
    with rillet.connect() as db:
        _stream(db)
        with pytest.raises(ConflictError, match="stream 'ev' already exists"):
            db.execute("CREATE STREAM ev AS SELECT host FROM ev")
        assert [s.name for s in db.streams()] == ["ev"] and not db.flows()


def test_a_flow_resuming_inside_a_partition_reads_in_offset_order() -> None:
    """A resumed flow starts at its checkpoint's offset, inside a partition: a record out
    of time order (15, stored in hour 0's partition, read first) must not go before the
    records 10..14 of hour 1, or the replay finds other records late than the run it
    repeats (a HOP's late records came doubled and missing after a kill)."""
    from rillet.flows.planner import plan_select
    from rillet.flows.runtime import start
    from rillet.rtsql import ast
    from rillet.rtsql.parser import parse

    hour = dt.timedelta(hours=1)
    with rillet.connect() as db:
        ev = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, id BIGINT", time_column="ts", partition="1h"
        )
        minute = dt.timedelta(minutes=1)
        ev.append_many(
            [(BASE + i * minute, i) for i in range(10)]
            + [(BASE + hour + i * minute, 10 + i) for i in range(5)]
            + [(BASE + 30 * minute, 15)]  # out of time order: hour 0's partition
            + [(BASE + hour + (10 + i) * minute, 16 + i) for i in range(5)]
        )
        select = parse("SELECT id FROM ev")
        assert isinstance(select, ast.Select)
        plan, columns = plan_select(db, select, {})
        flow = start(
            db, plan, "SELECT id FROM ev", columns,
            setup=lambda f: setattr(f, "start_offsets", {"ev": 10}),
        )  # fmt: skip
        flow.finish()
        assert [r["id"] for r in flow] == list(range(10, 21))


def test_late_records_keep_their_time_of_their_own_beside_columns_named_like_it() -> None:
    """``<name>.late``'s time is a column of its own unless the input's ``timestamp`` is
    its stream's time (a roll-up over a roll-up); a column ``Timestamp`` or a TIMESTAMP
    ``timestamp`` that is not the time is kept as it came."""
    with rillet.connect() as db:
        ev = db.create_stream(
            "ev", 'ts TIMESTAMP NOT NULL, "Timestamp" STRING, _timestamp TIMESTAMP',
            time_column="ts",
        )  # fmt: skip
        db.execute(
            "CREATE STREAM m AS SELECT window_start, count(*) AS n FROM ev "
            "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        )
        late = db.stream("m.late")
        assert late.schema.time_column == "__timestamp"
        ev.append_many([("2024-01-01T00:05:00Z", "a", None), ("2024-01-01T00:00:00Z", "b", None)])
        assert wait_until(lambda: len(late) == 1)
        rows = db.sql('SELECT "Timestamp", _timestamp, __timestamp FROM "m.late"').fetchall()
        assert rows == [("b", None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))]


def test_sketch_states_past_k_are_the_same_bytes_however_the_input_came(tmp_path: Path) -> None:
    """A window's group of more values than a KLL sketch holds (k = 200; here 600 to 1,200):
    its DISTRIBUTION and APPROX_QUANTILE states are the same bytes from one bulk read, from
    batches of 1 to 97, with the records within the lateness shuffled, and across a close
    and reopen halfway, compacted states the library reads within its rank error."""
    count = 4_000
    events = _events(0, count, step_s=2)  # 1,800 records an hour, 600 a host
    values = [(i * 7919) % 1000 / 7.0 for i in range(count)]
    events = events.set_column(2, "v", pa.array(values))
    query = (
        "CREATE STREAM r WITH (lateness = '1m') AS SELECT host, window_start, count(*) AS n, "
        "distribution(v * 1.5) AS dist, approx_quantile(v, 0.9) AS p90 FROM ev "
        "GROUP BY host, TUMBLE(ts, INTERVAL '1' HOUR)"
    )
    rows = "SELECT host, window_start, n, dist, p90 FROM r ORDER BY ALL"
    schema = "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE"
    closed = 3 * (count * 2 // 3600)  # whole hours out: 3 hosts each

    def run(folder: Path, cut: str) -> list[tuple[Any, ...]]:
        with rillet.connect(folder) as db:
            stream = db.create_stream("ev", schema, time_column="ts")
            db.execute(query)
            if cut == "bulk":
                stream.append_many(events)
            elif cut == "shuffled":  # each run of 20 records (40 s) in reverse: within lateness
                for start in range(0, count, 20):
                    stream.append_many(events.slice(start, 20).take(list(range(19, -1, -1))))
            else:
                start, size = 0, 1
                while start < count:
                    stream.append_many(events.slice(start, size))
                    start, size = start + size, size % 97 + 1
                    if cut == "reopen" and start >= count // 2 > start - size:
                        break
        if cut == "reopen":
            with rillet.connect(folder) as db:
                db.stream("ev").append_many(events.slice(start))
                assert wait_until(partial(_has_rows, db, "r", closed), 20)
                return db.sql(rows).fetchall()
        with rillet.connect(folder) as db:
            assert wait_until(partial(_has_rows, db, "r", closed), 20)
            return db.sql(rows).fetchall()

    results = {cut: run(tmp_path / cut, cut) for cut in ("bulk", "batches", "shuffled", "reopen")}
    assert len(results["bulk"]) == closed
    assert all(found == results["bulk"] for found in results.values())
    for host, start, n, dist, p90 in results["bulk"]:
        assert n > 200
        sketch = ds.kll_doubles_sketch.deserialize(p90)
        assert sketch.n == n and sketch.is_estimation_mode()
        assert ds.kll_doubles_sketch.deserialize(dist).n == n
        mine = [
            v
            for i, v in enumerate(values)
            if f"h{i % 3}" == host
            and start <= BASE + dt.timedelta(seconds=2 * i) < start + dt.timedelta(hours=1)
        ]
        below, at_most = ranks(mine, sketch.get_quantile(0.9, True))
        assert below - 0.02 <= 0.9 <= at_most + 0.02
