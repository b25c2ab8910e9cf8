"""The library's behaviour, embedded and remote: each test runs on ``rillet.connect(folder)``
and on ``rillet.connect("http://...")`` to a real server over another folder, with the same
assertions, so parity is shown rather than claimed."""

from __future__ import annotations

import datetime as dt
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
