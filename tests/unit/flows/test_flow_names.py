"""Stream names attached to running flows (FlumeBase's ``\\name`` and ``\\dname``): the
stream holds exactly the flow's output after naming, other flows and SQL read it, removing
the name stops the feeding and drops the stream, and every refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import rillet
from rillet.errors import ConflictError, NotFoundError, SchemaError, UnsupportedError

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
QUERY = "SELECT host, v * 2 AS w FROM ev WHERE v > 3"


def _events(first: int, count: int) -> pa.Table:
    offsets = range(first, first + count)
    return pa.table(
        {
            "ts": pa.array(
                [BASE + dt.timedelta(seconds=7 * i) for i in offsets], pa.timestamp("us", tz="UTC")
            ),
            "host": [f"h{i % 3}" for i in offsets],
            "v": [float(i % 11) for i in offsets],
        }
    )


def _stream(db: rillet.Database) -> rillet.Stream:
    return db.create_stream("ev", "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE", time_column="ts")


def _expected(events: pa.Table) -> list[tuple[Any, ...]]:
    """QUERY's rows over ``events``, by DuckDB, in input order."""
    con = duckdb.connect()
    con.register("events", events)
    return con.execute(
        "SELECT host, v * 2, ts FROM events WHERE v > 3 ORDER BY ts"
    ).fetchall()  # fmt: skip


def _stored(db: rillet.Database, name: str) -> list[tuple[Any, ...]]:
    return db.sql(f"SELECT host, w, timestamp FROM {name} ORDER BY timestamp").fetchall()


def _output(flow: rillet.Flow, rows: int) -> list[tuple[Any, ...]]:
    """The flow's own output (what a watcher sees), ``rows`` of it."""
    found: list[tuple[Any, ...]] = []
    for batch in flow.batches(timeout=10):
        found.extend(zip(*(batch.column(c).to_pylist() for c in batch.schema.names), strict=True))
        if len(found) >= rows:
            break
    return found


@pytest.fixture
def db() -> Any:
    with rillet.connect() as database:
        yield database


def test_the_named_stream_holds_exactly_the_output_after_naming(db: rillet.Database) -> None:
    ev = _stream(db)
    flow = db.execute(QUERY)
    before, after = _events(0, 40), _events(40, 60)
    ev.append_many(before)
    stream = db.name_flow(flow.id, "baz")
    assert (stream.name, str(stream.schema), stream.time_column) == (
        "baz", "host STRING, w DOUBLE, timestamp TIMESTAMP NOT NULL", "timestamp",
    )  # fmt: skip
    assert (flow.name, flow.attached) == ("baz", True)
    ev.append_many(after)
    assert _stored(db, "baz") == _expected(after)
    # the flow's own output goes on as before: before and after
    assert _output(flow, len(_expected(before)) + len(_expected(after))) == _expected(
        pa.concat_tables([before, after])
    )
    assert db.execute("SHOW FLOWS").lines[1] == f"   \t{flow.id}\tbaz\t{QUERY}\trunning\t"


def test_other_flows_read_the_named_stream(db: rillet.Database) -> None:
    ev = _stream(db)
    flow = db.execute(QUERY)
    db.name_flow(flow.id, "baz")
    reader = db.execute("SELECT host, w FROM baz WHERE w >= 16")
    events = _events(0, 50)
    ev.append_many(events)
    wanted = [(h, w, t) for h, w, t in _expected(events) if w >= 16]
    assert _output(reader, len(wanted)) == wanted


def test_dname_stops_the_feeding_and_drops_the_stream(db: rillet.Database) -> None:
    ev = _stream(db)
    flow = db.execute(QUERY)
    db.name_flow(flow.id, "baz")
    first, second, third = _events(0, 30), _events(30, 30), _events(60, 30)
    ev.append_many(first)
    db.unname_flow(flow.id)
    assert [s.name for s in db.streams()] == ["ev"]
    assert (flow.running, flow.name, flow.attached) == (True, None, False)
    ev.append_many(second)
    # a new name: only what comes after it
    db.name_flow(flow.id, "qux")
    ev.append_many(third)
    assert _stored(db, "qux") == _expected(third)
    everything = pa.concat_tables([first, second, third])
    assert _output(flow, len(_expected(everything))) == _expected(everything)


def test_a_windowed_flow_appends_the_windows_that_close_after_naming(
    db: rillet.Database,
) -> None:
    ev = _stream(db)
    flow = db.execute(
        "SELECT host, count(*) AS n, sum(v) AS total FROM ev "
        "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    stream = db.name_flow(flow.id, "per_minute")
    assert str(stream.schema) == (
        "host STRING, n BIGINT NOT NULL, total DOUBLE, timestamp TIMESTAMP NOT NULL"
    )
    events = _events(0, 100)
    ev.append_many(events)
    con = duckdb.connect()
    con.register("events", events)
    expected = con.execute(
        "SELECT host, count(*), sum(v) FROM "
        "(SELECT *, time_bucket(INTERVAL 1 MINUTE, ts) AS w FROM events) GROUP BY host, w "
        "HAVING w + INTERVAL 1 MINUTE <= (SELECT max(ts) FROM events) ORDER BY w, host"
    ).fetchall()
    got = db.sql("SELECT host, n, total FROM per_minute ORDER BY timestamp, host").fetchall()
    assert got == expected


def test_errors_name_what_was_wrong_and_change_nothing(db: rillet.Database) -> None:
    ev = _stream(db)
    db.create_stream("taken", "x INT")
    flow = db.execute(QUERY)
    with pytest.raises(NotFoundError, match=f"no running flow 99 \\(running: {flow.id}\\)"):
        db.name_flow(99, "baz")
    with pytest.raises(NotFoundError, match="no running flow 99"):
        db.unname_flow(99)
    with pytest.raises(ConflictError, match="stream 'taken' already exists"):
        db.name_flow(flow.id, "taken")
    with pytest.raises(SchemaError, match="stream name"):
        db.name_flow(flow.id, "no spaces")
    with pytest.raises(NotFoundError, match=f"flow {flow.id} has no stream name to remove"):
        db.unname_flow(flow.id)
    assert flow.name is None and [s.name for s in db.streams()] == ["ev", "taken"]
    db.name_flow(flow.id, "baz")
    with pytest.raises(ConflictError, match=f"flow {flow.id} already has the stream name 'baz'"):
        db.name_flow(flow.id, "other")
    assert [s.name for s in db.streams()] == ["baz", "ev", "taken"]
    events = _events(0, 20)
    ev.append_many(events)
    assert _stored(db, "baz") == _expected(events)


def test_a_named_flow_keeps_its_name(db: rillet.Database) -> None:
    ev = _stream(db)
    db.execute("CREATE STREAM big AS SELECT host, v FROM ev WHERE v > 8")
    (named,) = db.flows()
    ev.append_many(_events(0, 30))
    with pytest.raises(ConflictError, match=f"flow {named.id} is the named flow of stream 'big'"):
        db.name_flow(named.id, "baz")
    with pytest.raises(ConflictError, match="DROP STREAM big removes the flow and its stream"):
        db.unname_flow(named.id)
    assert db.sql("SELECT count(*) FROM big").fetchall() == [(sum(i % 11 > 8 for i in range(30)),)]
    assert named.running and [s.name for s in db.streams()] == ["big", "ev"]


def test_dname_is_refused_while_a_named_flow_reads_the_stream(db: rillet.Database) -> None:
    ev = _stream(db)
    flow = db.execute(QUERY)
    db.name_flow(flow.id, "baz")
    db.execute("CREATE STREAM wide AS SELECT host, w FROM baz WHERE w > 15")
    with pytest.raises(ConflictError, match="stream 'baz' is read by the named flow 'wide'"):
        db.unname_flow(flow.id)
    events = _events(0, 30)
    ev.append_many(events)  # still fed
    assert _stored(db, "baz") == _expected(events)
    assert db.sql("SELECT count(*) FROM wide").fetchall() == [
        (sum(1 for row in _expected(events) if row[1] > 15),)
    ]


def test_dname_refused_by_the_drop_itself_changes_nothing(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a named flow may begin to read the stream between \dname's check and its drop: the
    # drop refuses then, and the flow must still feed its stream
    ev = _stream(db)
    flow = db.execute(QUERY)
    db.name_flow(flow.id, "baz")
    drop = db.drop_stream

    def refused(name: str) -> None:
        monkeypatch.setattr(db, "drop_stream", drop)
        raise ConflictError(f"stream {name!r} is read by the named flow 'late_reader'")

    monkeypatch.setattr(db, "drop_stream", refused)
    with pytest.raises(ConflictError, match="late_reader"):
        db.unname_flow(flow.id)
    assert (flow.name, flow.attached) == ("baz", True)
    events = _events(0, 30)
    ev.append_many(events)  # still fed
    assert _stored(db, "baz") == _expected(events)


def test_a_column_called_timestamp_cannot_be_named(db: rillet.Database) -> None:
    _stream(db)
    flow = db.execute("SELECT ts AS timestamp, v FROM ev")
    with pytest.raises(UnsupportedError, match="has a column 'timestamp'"):
        db.name_flow(flow.id, "baz")
    assert [s.name for s in db.streams()] == ["ev"]


def test_dropping_the_stream_or_the_flow(db: rillet.Database) -> None:
    ev = _stream(db)
    flow = db.execute(QUERY)
    db.name_flow(flow.id, "baz")
    db.drop_stream("baz")  # the flow goes on, unnamed
    assert (flow.running, flow.name) == (True, None)
    db.name_flow(flow.id, "baz")
    events = _events(0, 30)
    ev.append_many(events)
    ev.caught_up()  # the flow has seen them
    db.execute(f"DROP FLOW {flow.id}")  # the flow ends; its stream stays with what it got
    assert flow.wait(10)
    ev.append_many(_events(30, 30))
    assert _stored(db, "baz") == _expected(events)


def test_the_stream_outlives_a_reopen_as_an_ordinary_stream(tmp_path: Path) -> None:
    events = _events(0, 30)
    with rillet.connect(tmp_path) as db:
        ev = _stream(db)
        flow = db.execute(QUERY)
        db.name_flow(flow.id, "baz")
        ev.append_many(events)
        ev.flush()
        db.stream("ev").caught_up()
    with rillet.connect(tmp_path) as db:
        assert db.flows() == []
        assert _stored(db, "baz") == _expected(events)


def test_naming_while_records_arrive_cuts_the_output_between_two_batches(
    db: rillet.Database,
) -> None:
    """Named while another thread appends: the stream holds a suffix of the flow's output,
    from one output batch on, with nothing missing or doubled, and at least the output of
    every record appended after the name was attached."""
    ev = _stream(db)
    flow = db.execute(QUERY)
    batches = [_events(i * 20, 20) for i in range(100)]
    named = threading.Event()
    appended_after: list[pa.Table] = []

    def appender() -> None:
        for i, batch in enumerate(batches):
            if i == 50:
                named.wait(10)
            after = named.is_set()
            ev.append_many(batch)
            if after:
                appended_after.append(batch)

    thread = threading.Thread(target=appender)
    thread.start()
    while ev.next_offset < 20 * 30:  # named after 30 batches at least, before 50
        time.sleep(0.001)
    db.name_flow(flow.id, "baz")
    named.set()
    thread.join(30)
    everything = _expected(pa.concat_tables(batches))
    assert _output(flow, len(everything)) == everything
    stored = _stored(db, "baz")
    assert 0 < len(stored) < len(everything)
    assert stored == everything[len(everything) - len(stored) :]
    assert len(stored) >= len(_expected(pa.concat_tables(appended_after)))
