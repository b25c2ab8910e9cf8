"""Every SELECT example of the rtsql reference, over streams fed by append_many, gives the
result the reference describes (hand-worked)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import rillet
from rillet.errors import ConfigError
from rillet.flows import config

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def at(ms: int) -> dt.datetime:
    return T0 + dt.timedelta(milliseconds=ms)


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def rows(db: rillet.Database, query: str) -> list[tuple[Any, ...]]:
    """Run a SELECT over what was appended, to the end of its input: its output rows."""
    flow = db.execute(query)
    flow.finish()
    return [tuple(r.values_tuple()) for r in flow]


def stamped(db: rillet.Database, query: str) -> list[tuple[Any, ...]]:
    """Like :func:`rows`, each row led by its timestamp in ms after T0."""
    flow = db.execute(query)
    flow.finish()
    return [((r.timestamp - T0) // dt.timedelta(milliseconds=1), *r.values_tuple()) for r in flow]


@pytest.fixture
def data(db: rillet.Database) -> rillet.Stream:
    s = db.create_stream(
        "data",
        "ts TIMESTAMP, id INT, name STRING, favcolor STRING, luckynumber INT",
        time_column="ts",
    )
    s.append_many(
        [
            (at(0), 1, "aaron", "purple", 42),
            (at(1), 2, "bob", "blue", 11),
            (at(2), 3, "cindy", "green", 312),
        ]
    )
    return s


def test_the_tour(db: rillet.Database, data: rillet.Stream) -> None:
    assert rows(db, "SELECT * FROM data;") == [
        (at(0), 1, "aaron", "purple", 42),
        (at(1), 2, "bob", "blue", 11),
        (at(2), 3, "cindy", "green", 312),
    ]
    assert rows(db, "SELECT favcolor FROM data WHERE luckynumber = 42;") == [("purple",)]


def test_to_list(db: rillet.Database) -> None:
    db.execute("CREATE STREAM x (a INT)")
    db.stream("x").append((7,))
    flow = db.execute("select to_list() from x;")
    flow.finish()
    assert flow.columns == ["to_list()"]
    assert [r["to_list()"] for r in flow] == [[]]
    assert rows(db, "select to_list(42,211,312) from x;") == [([42, 211, 312],)]


@pytest.fixture
def foo(db: rillet.Database) -> rillet.Stream:
    s = db.create_stream(
        "foo", "ts TIMESTAMP, a INT, b STRING, d DOUBLE, x STRING", time_column="ts"
    )
    s.append_many([(at(0), 1, "p", 0.5, "short"), (at(1), 3, "q", 1.5, "longer text")])
    return s


def test_selecting_columns_and_expressions(db: rillet.Database, foo: rillet.Stream) -> None:
    assert rows(db, "SELECT a, b, d FROM foo") == [(1, "p", 0.5), (3, "q", 1.5)]
    assert rows(db, "SELECT 2 * a + 3 FROM foo") == [(5,), (9,)]
    flow = db.execute("SELECT 2 * a AS doubled FROM foo")
    flow.finish()
    assert [dict(r) for r in flow] == [{"doubled": 2}, {"doubled": 6}]
    assert rows(db, "SELECT 2 * a doubled FROM foo") == [(2,), (6,)]  # AS is optional
    nested = "SELECT doubled FROM (SELECT 2 * a AS doubled FROM foo) AS q WHERE doubled > 4;"
    assert rows(db, nested) == [(6,)]
    assert rows(db, "SELECT foo.x FROM foo") == [("short",), ("longer text",)]
    assert rows(db, "SELECT LENGTH(x) FROM (SELECT x FROM foo) AS f") == [(5,), (11,)]
    assert rows(db, "SELECT x FROM foo WHERE LENGTH(x) > 5") == [("longer text",)]
    assert rows(db, "SELECT a AS b, b AS a FROM foo") == [(1, "p"), (3, "q")]  # names swap


def test_reference_names(db: rillet.Database) -> None:
    s = db.create_stream("verylongname", "ts TIMESTAMP, x INT", time_column="ts")
    s.append((at(0), 5))
    assert rows(db, "SELECT v.x FROM verylongname AS v;") == [(5,)]
    assert rows(db, "SELECT v.x FROM verylongname v;") == [(5,)]


def test_joins(db: rillet.Database) -> None:
    f = db.create_stream("f", "ts TIMESTAMP, x INT, fv STRING", time_column="ts")
    g = db.create_stream("g", "ts TIMESTAMP, y INT, gv STRING", time_column="ts")
    g.append_many(
        [(at(0), 1, "g0"), (at(4_000), 1, "g4"), (at(5_500), 1, "g5.5"), (at(6_000), 2, "g6")]
    )
    f.append_many([(at(6_000), 1, "f6"), (at(9_000), None, "fnull")])
    preceding = rows(
        db, "SELECT fv, gv FROM f JOIN g ON f.x = g.y OVER RANGE INTERVAL 5 SECONDS PRECEDING;"
    )
    # g events in (1 s, 6 s] with y = 1: g4 and g5.5 (g0 is 6 s before; NULL never matches)
    assert sorted(preceding) == [("f6", "g4"), ("f6", "g5.5")]
    g.append_many([(at(6_500), 1, "g6.5"), (at(11_000), 1, "g11"), (at(12_000), 1, "g12")])
    between = (
        "SELECT fv, gv FROM f JOIN g ON f.x = g.y OVER RANGE BETWEEN INTERVAL 1 SECONDS "
        "PRECEDING AND INTERVAL 5 SECONDS FOLLOWING"
    )
    # (5 s, 11 s]: g5.5, g6.5 and g11
    assert sorted(rows(db, between)) == [("f6", "g11"), ("f6", "g5.5"), ("f6", "g6.5")]
    star = db.execute("SELECT * FROM f JOIN g ON f.x = g.y OVER RANGE INTERVAL 1 SECONDS PRECEDING")
    star.finish()
    out = list(star)
    assert star.columns == ["f.ts", "x", "fv", "g.ts", "y", "gv"]
    assert [r.values_tuple() for r in out] == [(at(6_000), 1, "f6", at(5_500), 1, "g5.5")]
    # the time of whichever event reached the join second (the two streams' stored records
    # are read on two threads, in either order)
    assert out[0].timestamp in (at(6_000), at(5_500))


@pytest.fixture
def events(db: rillet.Database) -> rillet.Stream:
    s = db.create_stream("ev", "ts TIMESTAMP, event_src STRING", time_column="ts")
    s.append_many([(at(t), src) for t, src in [(0, "a"), (1_000, "b"), (2_000, "a"), (7_000, "a")]])
    return s


def test_rolling_counts(db: rillet.Database, events: rillet.Stream) -> None:
    # 5 s in 100 buckets of 50 ms; one row a non-empty bucket, the count of the trailing 5 s
    assert stamped(db, "SELECT COUNT(*) FROM ev OVER RANGE INTERVAL 5 SECONDS PRECEDING;") == [
        (0, 1), (1_000, 2), (2_000, 3), (7_000, 1),
    ]  # fmt: skip
    grouped = (
        "SELECT event_src, COUNT(*) FROM ev GROUP BY event_src "
        "OVER RANGE INTERVAL 5 SECONDS PRECEDING"
    )
    assert stamped(db, grouped) == [(0, "a", 1), (1_000, "b", 1), (2_000, "a", 2), (7_000, "a", 1)]
    having = (
        "SELECT event_src, COUNT(event_src) AS cnt FROM ev GROUP BY event_src "
        "OVER RANGE INTERVAL 5 SECONDS PRECEDING HAVING cnt > 1;"
    )
    assert stamped(db, having) == [(2_000, "a", 2)]
    named = (
        "SELECT COUNT(*) FROM ev OVER mywin WINDOW mywin AS (RANGE INTERVAL 10 SECONDS PRECEDING);"
    )
    assert stamped(db, named) == [(0, 1), (1_000, 2), (2_000, 3), (7_000, 4)]


def test_buckets_and_continuous_output(db: rillet.Database) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
    s.append_many([(at(100), 1), (at(150), 2)])
    query = "SELECT COUNT(*) AS n FROM t OVER RANGE INTERVAL 1 SECONDS PRECEDING"
    # 10 ms buckets: rows at 100 and 150 only, none for 110, 120, ...
    assert stamped(db, query) == [(100, 1), (150, 2)]
    db.set("rillet.aggregation.continuous.output", True)
    assert stamped(db, query) == [(100, 1), (110, 1), (120, 1), (130, 1), (140, 1), (150, 2)]


def test_minute_by_minute_hits(db: rillet.Database) -> None:
    s = db.create_stream("httpd_log", "ts TIMESTAMP, path STRING", time_column="ts")
    s.append_many([(at(ms), "/") for ms in (1_000, 59_999, 60_000, 150_000, 170_000)])
    db.set("rillet.aggregation.buckets", 1)
    db.set("rillet.aggregation.continuous.output", "true")
    query = "SELECT COUNT(*) as hits FROM httpd_log OVER RANGE INTERVAL 1 MINUTES PRECEDING;"
    assert stamped(db, query) == [(0, 2), (60_000, 1), (120_000, 2)]


def test_flumebase_setting_names_set_the_rillet_settings(db: rillet.Database) -> None:
    # the reference writes \set flumebase.aggregation.buckets=1: the same setting
    s = db.create_stream("httpd_log", "ts TIMESTAMP, path STRING", time_column="ts")
    s.append_many([(at(ms), "/") for ms in (1_000, 59_999, 60_000, 150_000, 170_000)])
    db.set("flumebase.aggregation.buckets", 1)
    db.set("flumebase.aggregation.continuous.output", "true")
    assert db.config["rillet.aggregation.buckets"] == 1
    assert db.config["rillet.aggregation.continuous.output"] is True
    assert "flumebase.aggregation.buckets" not in db.config
    query = "SELECT COUNT(*) as hits FROM httpd_log OVER RANGE INTERVAL 1 MINUTES PRECEDING;"
    assert stamped(db, query) == [(0, 2), (60_000, 1), (120_000, 2)]
    with pytest.raises(ConfigError, match="rillet.slack.time"):
        db.set("flumebase.slack.time", -5)  # validated as the rillet one
    db.set("flumebase.flume.master.port", "12345")  # FlumeBase's other keys: kept as given
    assert db.config["flumebase.flume.master.port"] == "12345"


def test_event_properties(db: rillet.Database, foo: rillet.Stream) -> None:
    # rillet records have no Flume attributes (#x is NULL) and the default priority INFO
    assert rows(db, "SELECT * FROM foo WHERE #interesting IS NOT NULL;") == []
    assert rows(db, "SELECT * FROM foo WHERE BIN2STR(#x) = 'abc';") == []
    assert rows(db, "SELECT * FROM foo WHERE PRIORITY() = 'ERROR';") == []
    assert rows(db, "SELECT * FROM foo WHERE PRIORITY_LEVEL() <= 2;") == []
    assert len(rows(db, "SELECT a FROM foo WHERE PRIORITY() = 'INFO'")) == 2
    assert rows(db, "SELECT event_timestamp() FROM foo") == [(at(0),), (at(1),)]


def test_explain_shows_the_operator_graph(db: rillet.Database, foo: rillet.Stream) -> None:
    text = str(db.execute("EXPLAIN SELECT x FROM foo;"))
    assert "Parse tree:" in text
    assert "Scan foo" in text and "Project" in text


def test_output_types(db: rillet.Database) -> None:
    s = db.create_stream(
        "typed",
        "ts TIMESTAMP, l LIST<INT>, b BINARY, p PRECISE(2), ok BOOLEAN, n BIGINT",
        time_column="ts",
    )
    s.append((at(0), [1, None], b"\x00a", Decimal("3.35"), True, 2**40))
    (row,) = rows(db, "SELECT l, b, p, ok, n, n / 2 FROM typed")
    assert row == ([1, None], b"\x00a", Decimal("3.35"), True, 2**40, 2**39)
    assert [type(v) for v in row] == [list, bytes, Decimal, bool, int, int]
    assert row[2].as_tuple().exponent == -2


def test_flows_are_listed_cancelled_and_waited_for(db: rillet.Database, foo: rillet.Stream) -> None:
    first = db.execute("SELECT a FROM foo")
    second = db.execute("SELECT b FROM foo")
    assert [f.id for f in db.flows()] == [first.id, second.id]
    assert db.flow(second.id) is second and second.query == "SELECT b FROM foo"
    assert second.stream == "foo"
    first.cancel()
    assert first.wait(5)
    assert db.flows() == [second]
    with pytest.raises(rillet.errors.NotFoundError):
        db.flow(first.id)
    assert not second.wait(0.01)
    db.execute(f"DROP FLOW {second.id}")
    assert second.wait(5) and db.flows() == []


def test_a_flow_sees_records_appended_while_it_runs(
    db: rillet.Database, foo: rillet.Stream
) -> None:
    flow = db.execute("SELECT a FROM foo WHERE a > 2")
    got = iter(flow)
    assert next(got)["a"] == 3
    foo.append((at(5), 7, "r", 2.0, "x"))
    assert next(got)["a"] == 7
    flow.cancel()
    assert list(got) == []


def test_settings_are_validated_and_taken_at_submission(db: rillet.Database) -> None:
    assert db.config[config.BUCKETS] == 100
    assert db.config[config.SLACK] == 200
    assert db.config[config.CONTINUOUS] is False
    assert db.config[config.MAX_PRIOR] == 5000
    for key, value in [(config.BUCKETS, 0), (config.BUCKETS, "many"), (config.SLACK, -1),
                       (config.CONTINUOUS, "yes"), ("rillet.aggregation.bucket", 5)]:  # fmt: skip
        with pytest.raises(rillet.errors.ConfigError):
            db.set(key, value)
    assert db.config[config.BUCKETS] == 100
    db.set(config.SLACK, "0")
    assert db.config[config.SLACK] == 0
    db.set("io.skip.checksum.errors", "false")  # other keys are kept as given
    assert db.config["io.skip.checksum.errors"] == "false"


def test_late_events_are_counted_and_visible(db: rillet.Database) -> None:
    s = db.create_stream("late", "ts TIMESTAMP, v INT", time_column="ts")
    db.set(config.BUCKETS, 1)
    db.set(config.CONTINUOUS, True)
    # 1 s windows, slack 200 ms: 0.1 s, 2.5 s (closes the first window), then 0.9 s late
    s.append_many([(at(100), 1), (at(2_500), 1), (at(900), 1), (at(12_000), 1), (at(50), 1)])
    flow = db.execute("SELECT COUNT(*) AS n FROM late OVER RANGE INTERVAL 1 SECONDS PRECEDING")
    flow.finish()
    assert [((r.timestamp - T0) // dt.timedelta(milliseconds=1), r["n"]) for r in flow] == [
        (0, 1), (2_000, 1), (12_000, 1),
    ]  # fmt: skip
    assert (flow.late_events, flow.dropped_events) == (2, 2)


def test_dropping_a_stream_cancels_the_flows_reading_it(
    db: rillet.Database, foo: rillet.Stream
) -> None:
    flow = db.execute("SELECT a FROM foo")
    foo.append((at(5), 7, "r", 2.5, "last"))
    db.drop_stream("foo")  # at once: the records appended before go through first
    assert flow.wait(5) and flow.cancelled and db.flows() == []
    assert [r["a"] for r in flow] == [1, 3, 7]


def test_nested_selects_joined_and_aggregated(db: rillet.Database) -> None:
    s = db.create_stream("e", "ts TIMESTAMP, h STRING, z INT, v DOUBLE", time_column="ts")
    s.append_many([(at(0), "a", 1, 1.5), (at(20), "b", 1, None), (at(30), "a", 1, 4.0)])
    query = (
        "SELECT a.h, b.h FROM (SELECT h, z FROM e) AS a JOIN (SELECT h, z FROM e WHERE v IS "
        "NULL) AS b ON a.z = b.z OVER RANGE INTERVAL 1 SECONDS PRECEDING"
    )
    flow = db.execute(query)
    flow.finish()
    assert flow.columns == ["a.h", "b.h"]
    assert sorted(r.values_tuple() for r in flow) == [("a", "b"), ("b", "b")]
    db.set(config.BUCKETS, 1)
    db.set(config.CONTINUOUS, True)
    inner = (
        "SELECT h, COUNT(*) AS n, AVG(v) AS mean FROM e GROUP BY h "
        "OVER RANGE INTERVAL 1 SECONDS PRECEDING"
    )
    assert rows(db, f"SELECT h, n * 2 AS m, mean FROM ({inner}) AS q WHERE n > 1") == [
        ("a", 4, 2.75)
    ]


def test_arrival_time_windows_close_as_the_clock_passes(db: rillet.Database) -> None:
    # a stream stamped with arrival time: its event time is the clock's, so the window's
    # row comes without waiting for a later record (slack 200 ms, buckets of 10 ms)
    db.execute("CREATE STREAM live (v INT)")
    flow = db.execute("SELECT COUNT(*) AS n FROM live OVER RANGE INTERVAL 1 SECONDS PRECEDING")
    db.stream("live").append_many([(1,), (2,)])
    first = next(iter(flow))  # arrives once the clock is past the bucket and the slack
    assert first["n"] == 2
    flow.cancel()
