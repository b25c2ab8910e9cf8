"""The library's behaviour, embedded and remote: each test runs on ``rillet.connect(folder)``
and on ``rillet.connect("http://...")`` to a real server over another folder, with the same
assertions, so parity is shown rather than claimed."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import uvicorn

import rillet
from rillet import errors
from rillet.api import DatabaseAPI, FlowAPI, StreamAPI
from rillet.client.database import RemoteDatabase, RemoteStream
from rillet.client.flow import RemoteFlow
from rillet.server import ServerConfig, build_app
from tests.server.conftest import free_port

SCHEMA = "ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["embedded", "remote"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "embedded":
        with rillet.connect(tmp_path / "embedded") as local:
            yield local
        return
    served = rillet.connect(tmp_path / "served")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(served, ServerConfig(data=tmp_path / "served", heartbeat=0.5)),
            host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1,
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    remote = rillet.connect(f"http://127.0.0.1:{port}")
    try:
        yield remote
    finally:
        remote.close()
        server.should_exit = True
        thread.join(10)
        served.close()


def rows(n: int) -> list[tuple[dt.datetime, str, float]]:
    return [(T0 + dt.timedelta(seconds=i), "ab"[i % 2], float(i)) for i in range(n)]


def test_append_read_and_scan(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    assert s.append(rows(1)[0]) == 0
    assert s.append({"ts": T0 + dt.timedelta(seconds=1), "host": "b", "ms": 1.0}) == 1
    assert s.append_many(rows(5)[2:]) == 2
    table = pa.table({"ts": pa.array([T0 + dt.timedelta(seconds=9)]), "host": ["z"], "ms": [9.0]})
    assert s.append_many(table) == 5
    assert len(s) == 6 and s.next_offset == 6
    record = s.read(5)
    assert (record.offset, record["host"], record["ms"], record["ts"]) == (
        5, "z", 9.0, T0 + dt.timedelta(seconds=9),
    )  # fmt: skip
    assert [r["ms"] for r in s.read(1, 3)] == [1.0, 2.0, 3.0]
    window = [r["ms"] for r in s.scan(T0 + dt.timedelta(seconds=2), T0 + dt.timedelta(seconds=4))]
    assert window == [2.0, 3.0]
    assert [x.name for x in db.streams()] == ["req"]
    assert str(db.stream("req").schema) == str(s.schema)


def test_a_stream_without_a_time_column(db: Any) -> None:
    s = db.create_stream("events", "host STRING NOT NULL, n BIGINT")
    assert s.time_column == "_time" and s.append_many([("a", 1), ("b", 2)]) == 0
    again = db.stream("events")
    assert str(again.schema) == str(s.schema) == "host STRING NOT NULL, n BIGINT"
    assert [(r["host"], r["n"]) for r in again.read(0, 2)] == [("a", 1), ("b", 2)]


def test_sql_results(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(rows(10))
    result = db.sql("SELECT host, sum(ms) AS total FROM req GROUP BY host ORDER BY host")
    assert result.columns == ["host", "total"]
    assert result.fetchall() == [("a", 20.0), ("b", 25.0)]
    assert result.arrow().column("total").to_pylist() == [20.0, 25.0]
    assert list(result.df()["host"]) == ["a", "b"]
    assert result.pl()["total"].to_list() == [20.0, 25.0]
    assert db.sql("SELECT count(*) FROM req WHERE ms > ?", [4]).fetchall() == [(5,)]


def test_monitors(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.add_filter("slow", "ms > 6")
    s.add_aggregate("worst", "slow", "MAX(ms)")
    s.install_trigger("bad", "worst > 7", period="1s")
    s.append_many(rows(10))
    assert s.get_aggregate("worst") == 9.0
    assert [r["ms"] for r in s.query_filter("slow")] == [7.0, 8.0, 9.0]
    assert [r["ms"] for r in s.execute_filter("ms < 2")] == [0.0, 1.0]
    deadline = time.monotonic() + 10
    while not s.get_alerts() and time.monotonic() < deadline:
        time.sleep(0.05)
    alerts = s.get_alerts(trigger="bad")
    assert [(a.trigger, a.value) for a in alerts] == [("bad", 8.0)]  # 9 s: its window is open
    s.remove_trigger("bad")
    s.remove_aggregate("worst")
    s.remove_filter("slow")


def test_rtsql_and_flows(db: Any, tmp_path: Path) -> None:
    db.create_stream("req", SCHEMA, time_column="ts")
    shown = db.execute("SHOW STREAMS")
    assert str(shown).splitlines()[0].startswith("req (STREAM(TIMESTAMP NOT NULL, STRING NOT NULL")
    flow = db.execute("SELECT host, ms FROM req WHERE ms >= 3")
    assert [f.id for f in db.flows()] == [flow.id]
    db.stream("req").append_many(rows(5))
    got = []
    for record in flow:
        got.append((record["host"], record["ms"], record.timestamp))
        if len(got) == 2:
            break
    assert got == [
        ("b", 3.0, T0 + dt.timedelta(seconds=3)),
        ("a", 4.0, T0 + dt.timedelta(seconds=4)),
    ]
    db.set("rillet.aggregation.buckets", 7)
    assert db.config["rillet.aggregation.buckets"] == 7
    db.flow(flow.id).cancel()
    assert flow.wait(10)
    assert db.flows() == [] or all(not f.running for f in db.flows())


def test_a_stream_name_attached_to_a_running_flow(db: Any) -> None:
    req = db.create_stream("req", SCHEMA, time_column="ts")
    flow = db.execute("SELECT host, ms FROM req WHERE ms >= 3")
    req.append_many(rows(5))  # before the name: not in its stream
    stream = db.name_flow(flow.id, "slow")
    assert (stream.name, str(stream.schema), stream.time_column) == (
        "slow", "host STRING NOT NULL, ms DOUBLE, timestamp TIMESTAMP NOT NULL", "timestamp",
    )  # fmt: skip
    assert [(f.id, f.name, f.attached) for f in db.flows()] == [(flow.id, "slow", True)]
    assert db.execute("SHOW FLOWS").lines[1].split("\t")[1:3] == [str(flow.id), "slow"]
    later = [(T0 + dt.timedelta(seconds=i), "ab"[i % 2], float(i)) for i in range(5, 12)]
    req.append_many(later)
    expected = [(host, ms, ts) for ts, host, ms in later if ms >= 3]
    assert db.sql("SELECT host, ms, timestamp FROM slow ORDER BY timestamp").fetchall() == expected
    with pytest.raises(errors.ConflictError, match=f"flow {flow.id} already has the stream name"):
        db.name_flow(flow.id, "other")
    db.unname_flow(flow.id)
    assert [s.name for s in db.streams()] == ["req"]
    assert [(f.id, f.name) for f in db.flows()] == [(flow.id, None)]
    with pytest.raises(errors.NotFoundError, match=f"flow {flow.id} has no stream name"):
        db.unname_flow(flow.id)
    with pytest.raises(errors.ConflictError, match="stream 'req' already exists"):
        db.name_flow(flow.id, "req")
    with pytest.raises(errors.NotFoundError, match="no running flow 99"):
        db.name_flow(99, "x")


ERRORS: list[tuple[type[errors.RilletError], Callable[[Any], object], dict[str, object]]] = [
    (errors.NotFoundError, lambda db: db.stream("nope"), {"kind": "stream", "name": "nope"}),
    (errors.ConflictError, lambda db: db.create_stream("req", "x INT"), {}),
    (
        errors.RecordError,
        lambda db: db.stream("req").append_many([(T0, "a", "slow")]),
        {"column": "ms"},
    ),
    (errors.ParseError, lambda db: db.sql("SELECT 1 FROM\nWHERE"), {"line": 2}),
    (errors.ParseError, lambda db: db.execute("SELECT x FROM"), {"line": 1}),
    (errors.TypeCheckError, lambda db: db.stream("req").add_filter("f", "nope > 1"), {}),
    (errors.ConfigError, lambda db: db.set("rillet.aggregation.buckets", 0), {}),
    (errors.NotFoundError, lambda db: db.flow(99), {"name": "99"}),
]


@pytest.mark.parametrize("cls, call, detail", ERRORS)
def test_every_error_class_round_trips(
    db: Any, cls: type[errors.RilletError], call: Callable[[Any], object], detail: dict[str, object]
) -> None:
    db.create_stream("req", SCHEMA, time_column="ts")
    with pytest.raises(cls) as caught:
        call(db)
    assert type(caught.value) is cls or isinstance(caught.value, cls)
    for key, value in detail.items():
        assert getattr(caught.value, key) == value
    assert len(db.stream("req")) == 0


def as_protocols(
    db: RemoteDatabase, stream: RemoteStream, flow: RemoteFlow
) -> tuple[DatabaseAPI, StreamAPI, FlowAPI]:
    """Type-checked only: mypy holds the remote classes to the protocols' signatures."""
    return db, stream, flow


def test_both_implement_the_protocols_of_the_public_surface(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.add_filter("slow", "ms > 6")
    s.append_many(rows(10))
    flow = db.execute("SELECT host, ms FROM req WHERE ms > 100")
    try:
        assert isinstance(db, DatabaseAPI)
        assert isinstance(s, StreamAPI)
        assert isinstance(flow, FlowAPI) and isinstance(db.flow(flow.id), FlowAPI)
        matched = s.query_filter("slow")
        assert len(matched) == 3
        assert [r["ms"] for r in matched] == [7.0, 8.0, 9.0]
        adhoc = s.execute_filter("ms < 2")
        assert (len(adhoc), [r["ms"] for r in adhoc]) == (2, [0.0, 1.0])
    finally:
        flow.cancel()


def test_a_wrong_type_is_the_same_precise_error_remotely(db: Any) -> None:
    """The table of tests/unit/test_arguments.py, over the protocols' methods, on both."""
    from rillet.api import DatabaseAPI, StreamAPI
    from tests.unit.test_arguments import CASES

    s = db.create_stream("perf", "ts TIMESTAMP, host STRING, ms DOUBLE", time_column="ts")
    s.append_many(rows(3))
    protocols = {"Database": DatabaseAPI, "Stream": StreamAPI}
    checked = 0
    for owner, method, argument, call, kind, message in CASES:
        if owner not in protocols or not hasattr(protocols[owner], method):
            continue  # connect() and the engine's plumbing are not remote
        with pytest.raises(errors.RilletError) as info:
            call(db, s)
        assert (type(info.value), str(info.value)) == (kind, message), (method, argument)
        checked += 1
    assert checked == 63
    assert [r["ms"] for r in s.scan()] == [0.0, 1.0, 2.0]
    assert db.streams()[0].name == "perf"


def test_both_are_the_api_protocols(db: Any) -> None:
    from rillet.api import DatabaseAPI, StreamAPI

    s = db.create_stream("req", SCHEMA, time_column="ts")
    assert isinstance(db, DatabaseAPI) and isinstance(s, StreamAPI)
    assert (s.name, s.time_column, str(s.schema)) == (
        "req", "ts", "ts TIMESTAMP NOT NULL, host STRING NOT NULL, ms DOUBLE",
    )  # fmt: skip


def test_reads_at_the_edges(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(rows(5))
    assert [r.offset for r in s.read(-2, 4)] == [0, 1]
    assert [r.offset for r in s.read(3, 10)] == [3, 4]
    assert s.read(3, 0) == [] and s.read(9, 2) == []
    with pytest.raises(errors.InputError, match="count must be an int of 0 or more"):
        s.read(3, -2)
    for offset in (-1, 5):
        with pytest.raises(errors.NotFoundError) as caught:
            s.read(offset)
        assert (caught.value.kind, caught.value.name) == ("record", str(offset))
    assert s.read(4)["ts"] == T0 + dt.timedelta(seconds=4)


def test_scans_give_offsets_and_take_every_kind_of_bound(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(list(reversed(rows(6))))  # offset 0 is the latest time
    assert [(r.offset, r["ms"]) for r in s.scan()] == [(5 - i, float(i)) for i in range(6)]
    start = T0 + dt.timedelta(seconds=2)
    end = T0 + dt.timedelta(seconds=4)
    expected = [(3, 2.0), (2, 3.0)]
    ns = int(start.timestamp()) * 10**9
    for low, high in [
        (start, end),
        (start.isoformat(), end.isoformat()),
        (ns, ns + 2 * 10**9),
        (ns - 1, ns + 2 * 10**9 - 1),  # a nanosecond bound rounds up to the microsecond
        (start.replace(tzinfo=None), end.replace(tzinfo=None)),  # naive: UTC
    ]:
        assert [(r.offset, r["ms"]) for r in s.scan(low, high)] == expected, (low, high)
    assert [r["ms"] for r in s.scan(end)] == [4.0, 5.0]
    assert [r["ms"] for r in s.scan(None, start)] == [0.0, 1.0]
    assert list(s.scan(10**22)) == [] and len(list(s.scan(-(10**22)))) == 6


def test_filter_matches_are_records_with_offsets(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(rows(10))
    s.add_index("ms", 2.0, backfill=True)
    matched = s.execute_filter("ms >= 7")
    assert len(matched) == 3 and list(matched.offsets) == [7, 8, 9]
    assert matched.arrow().column_names == ["ts", "host", "ms", "_offset"]
    assert matched.arrow().column("ms").to_pylist() == [7.0, 8.0, 9.0]
    assert [(r.offset, r["host"]) for r in matched] == [(7, "b"), (8, "a"), (9, "b")]
    window = s.execute_filter("host = 'a'", T0 + dt.timedelta(seconds=2), "2026-01-01T00:00:06Z")
    assert list(window.offsets) == [2, 4]
    s.remove_index("ms")
    with pytest.raises(errors.NotFoundError):
        s.remove_index("ms")
    s.add_filter("slow", "ms > 6", resolution="1m", backfill=True)
    slow = s.query_filter("slow")
    assert list(slow.offsets) == [7, 8, 9] and [r.offset for r in slow] == [7, 8, 9]
    assert list(s.query_filter("slow", None, T0 + dt.timedelta(seconds=8)).offsets) == [7]
    assert len(s.query_filter("slow", T0 + dt.timedelta(hours=1))) == 0


def test_aggregates_over_ranges_and_their_options(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(rows(10))
    s.add_aggregate("n", None, "COUNT(*)", resolution="1s", backfill=True)
    s.add_filter("a", "host = 'a'", backfill=True)
    s.add_aggregate("a_total", "a", "SUM(ms)", backfill=True)
    assert s.get_aggregate("n") == 10
    assert s.get_aggregate("n", T0 + dt.timedelta(seconds=3), T0 + dt.timedelta(seconds=6)) == 3
    assert s.get_aggregate("a_total") == 20.0
    assert s.get_aggregate("a_total", None, T0 + dt.timedelta(seconds=4)) == 2.0
    with pytest.raises(errors.ConflictError):
        s.remove_filter("a")  # its aggregate uses it
    with pytest.raises(errors.NotFoundError) as caught:
        s.get_aggregate("nope")
    assert (caught.value.kind, caught.value.name) == ("aggregate", "nope")
    s.remove_aggregate("a_total")
    s.remove_filter("a")
    with pytest.raises(errors.NotFoundError):
        s.add_aggregate("x", "a", "SUM(ms)")


def test_alerts_reach_on_alert_and_get_alerts_by_range(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.add_aggregate("worst", None, "MAX(ms)")
    s.install_trigger("bad", "worst > 7", period="1s")
    seen: list[tuple[str, float]] = []
    s.on_alert(lambda alert: seen.append((alert.trigger, alert.value)))
    time.sleep(0.3)  # remotely, the alert events are being read
    s.append_many(rows(10))
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == [("bad", 8.0)]
    fired = T0 + dt.timedelta(seconds=8)
    assert [(a.trigger, a.stream, a.time) for a in s.get_alerts()] == [("bad", "req", fired)]
    assert s.get_alerts(fired + dt.timedelta(seconds=1)) == []
    assert len(s.get_alerts(None, fired + dt.timedelta(seconds=1), "bad")) == 1
    s.add_webhook("http://127.0.0.1:9/alerts", "bad")
    s.remove_webhook("http://127.0.0.1:9/alerts", "bad")
    with pytest.raises(errors.NotFoundError):
        s.remove_webhook("http://127.0.0.1:9/alerts", "bad")
    with pytest.raises(errors.ConfigError, match="must start with http:// or https://"):
        s.add_webhook("ftp://x")


def test_streams_are_made_with_options_and_dropped(db: Any) -> None:
    s = db.create_stream(
        "kept", "ts TIMESTAMP, n BIGINT", time_column="ts", partition="1d", retention="30d",
        max_bytes=10**9, durability="durable",
    )  # fmt: skip
    db.create_stream("also", [("n", "INT"), ("s", "STRING")])
    assert [x.name for x in db.streams()] == ["also", "kept"]
    assert s.append((T0, 7)) == 0 and s.next_offset == 1 and len(s) == 1
    s.flush()
    assert db.sql("SELECT n FROM kept").fetchall() == [(7,)]
    db.drop_stream("kept")
    assert [x.name for x in db.streams()] == ["also"]
    with pytest.raises(errors.NotFoundError) as caught:
        db.stream("kept")
    assert caught.value.name == "kept"
    with pytest.raises(errors.ConfigError) as bad:
        db.create_stream("x", "n INT", durability="sometimes")
    assert bad.value.detail["option"] == "durability"
    assert [x.name for x in db.streams()] == ["also"]


def test_sql_params_and_statements(db: Any) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    s.append_many(rows(6))
    query = "SELECT ms FROM req WHERE host = ? AND ts >= ? ORDER BY ms"
    assert db.sql(query, ["a", T0 + dt.timedelta(seconds=2)]).fetchall() == [(2.0,), (4.0,)]
    assert db.sql("SELECT ? IS NULL, ?::DOUBLE", [None, 1.5]).fetchall() == [(True, 1.5)]
    empty = db.sql("SELECT host FROM req WHERE ms > 100")
    assert empty.fetchall() == [] and empty.columns == ["host"]
    described = db.execute("DESCRIBE req")
    assert str(described).splitlines()[0].startswith("req (STREAM(")
    with pytest.raises(errors.NotFoundError):
        db.sql("SELECT * FROM nope")


def test_flows_carry_their_query_columns_and_state(db: Any) -> None:
    db.create_stream("req", SCHEMA, time_column="ts")
    flow = db.execute("SELECT host FROM req WHERE ms > 1")
    (listed,) = db.flows()
    assert (listed.id, listed.query, listed.running) == (
        flow.id, "SELECT host FROM req WHERE ms > 1", True,
    )  # fmt: skip
    assert list(db.flow(flow.id).columns) == ["host"]
    assert (flow.lag, flow.late_events, flow.dropped_events) == (0, 0, 0)
    assert db.config["rillet.flow.autowatch"] is True
    db.set("rillet.flow.autowatch", False)
    assert db.config["rillet.flow.autowatch"] is False
    db.flow(flow.id).cancel()
    assert flow.wait(10)


ARGUMENTS: list[tuple[type[errors.RilletError], Callable[[Any], object], str]] = [
    (errors.InputError, lambda db: db.stream("req").read("a"), "read(): offset must be an int"),
    (errors.InputError, lambda db: list(db.stream("req").scan("zz")), "scan(): start must be"),
    (errors.InputError, lambda db: db.stream("req").get_aggregate("x", None, 1.5), "end must be"),
    (errors.ConfigError, lambda db: db.stream("req").add_index("ms", "1"), "bucket_size must be"),
    (errors.ConfigError, lambda db: db.stream("req").add_filter("f", 1), "expression must be"),
    (errors.ConfigError, lambda db: db.stream("req").on_alert(3), "callback must be callable"),
    (errors.SchemaError, lambda db: db.create_stream(5, "n INT"), "name must be a str"),
    (errors.InputError, lambda db: db.sql(5), "sql(): query must be a str"),
    (errors.InputError, lambda db: db.flow("1"), "flow(): flow_id must be an int"),
    (errors.ConfigError, lambda db: db.set("rillet.slack.time", 1.5), "value must be"),
]


@pytest.mark.parametrize("cls, call, message", ARGUMENTS)
def test_a_wrong_argument_is_the_same_error(
    db: Any, cls: type[errors.RilletError], call: Callable[[Any], object], message: str
) -> None:
    db.create_stream("req", SCHEMA, time_column="ts")
    with pytest.raises(cls, match=re.escape(message)) as caught:
        call(db)
    assert type(caught.value) is cls
    assert caught.value.detail["argument"] in str(caught.value)


@pytest.mark.parametrize("name", ["take", "subscribe", "seal", "partitions", "stored"])
def test_engine_plumbing_is_refused_remotely(db: Any, name: str) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    if not isinstance(db, RemoteDatabase):
        assert callable(getattr(s, name))
        return
    with pytest.raises(errors.UnsupportedError, match=f"Stream.{name} is the embedded engine's"):
        getattr(s, name)
    with pytest.raises(errors.UnsupportedError, match="Database.confine_sql"):
        db.confine_sql  # noqa: B018
    with pytest.raises(AttributeError):
        s.no_such_method  # noqa: B018
    flow = db.execute("SELECT host FROM req")
    with pytest.raises(errors.UnsupportedError, match="Flow.types is the embedded engine's"):
        flow.types  # noqa: B018
    flow.cancel()


BAD_RECORDS: list[tuple[Any, str, dict[str, Any]]] = [
    ((1, 2, 3, 4), "row 0 of stream 'req' has 4 values; the schema has 3 columns (ts, host, ms), "
     "or 2 without the time column 'ts'", {"column": None, "row": 0, "value": (1, 2, 3, 4)}),
    ({"host": "a", "nope": 1}, "unknown column 'nope' in row 0 of stream 'req'",
     {"column": "nope", "row": 0, "value": 1}),
    ("abc", "row 0 of stream 'req' must be a tuple, list or mapping, not str",
     {"column": None, "row": 0, "value": "abc"}),
    (None, "row 0 of stream 'req' must be a tuple, list or mapping, not NoneType",
     {"column": None, "row": 0, "value": None}),
    ((T0, "a", "x"), "column 'ms' of row 0 in stream 'req': expected DOUBLE, got str (value 'x', "
     "column type DOUBLE)", {"column": "ms", "row": 0, "value": "x"}),
]  # fmt: skip


@pytest.mark.parametrize("row, message, detail", BAD_RECORDS)
def test_a_bad_record_is_the_same_record_error(
    db: Any, row: Any, message: str, detail: dict[str, Any]
) -> None:
    s = db.create_stream("req", SCHEMA, time_column="ts")
    with pytest.raises(errors.RecordError) as caught:
        s.append(row)
    assert str(caught.value) == message
    assert {k: caught.value.detail[k] for k in detail} == detail
    assert caught.value.detail["stream"] == "req"
    assert s.append(("a", 1.0)) == 0 and len(s) == 1  # the time column left out: ingest time


def test_aggregate_values_keep_their_types(db: Any) -> None:
    s = db.create_stream("req", SCHEMA + ", n BIGINT, ok BOOLEAN", time_column="ts")
    s.append_many([(t, h, ms, int(ms), int(ms) % 2 == 0) for t, h, ms in rows(10)])
    expected = {
        "MIN(ts)": T0, "MAX(ts)": T0 + dt.timedelta(seconds=9), "SUM(n)": 45, "AVG(ms)": 4.5,
        "MAX(ok)": True, "LAST(host)": "b", "TOP_K(host, 2)": ["a", "b"], "COUNT(*)": 10,
    }  # fmt: skip
    for i, expression in enumerate(expected):
        s.add_aggregate(f"a{i}", None, expression, backfill=True)
        value = s.get_aggregate(f"a{i}")
        assert (value, type(value)) == (expected[expression], type(expected[expression]))
    assert s.get_aggregate("a0", T0 + dt.timedelta(hours=1)) is None  # no record: no value


def test_a_named_flow_that_failed_stays_listed_with_its_error(db: Any) -> None:
    nums = db.create_stream("nums", "v BIGINT")
    db.execute("CREATE STREAM big AS SELECT v * 4611686018427387904 AS b FROM nums")
    nums.append_many([(0,), (5,)])  # 5 * 2**62 overflows BIGINT
    (flow,) = db.flows()
    assert flow.wait(10)  # it ended (failed), though still listed
    error = "ArrowInvalid: overflow (on the records at offsets 0..1 of stream 'nums')"
    assert [(f.name, f.state, f.error, f.running) for f in db.flows()] == [
        ("big", "failed", error, False)
    ]
    db.drop_stream("big")
    assert db.flows() == []
