"""Helpers shared by the unit tests (the shared fixtures are in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rillet
from rillet.clock import Alarm

UTC = dt.UTC
#: 2024-05-01T00:00:00Z, the day most tests put their event times in
DAY = dt.datetime(2024, 5, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000
#: settings that leave sealing and retention to the test (called by hand), never to a thread
MANUAL: dict[str, Any] = {"maintenance_interval": 3600.0}


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> dt.datetime:
    """A UTC instant on DAY."""
    return DAY + dt.timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)


def us(when: dt.datetime) -> int:
    """An aware datetime as epoch microseconds (exact integer arithmetic)."""
    return (when - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


def parquet_files(root: Path) -> list[Path]:
    """Every sealed file under a data folder, by path."""
    return sorted(root.rglob("*.parquet"))


def catalog_files(root: Path) -> list[tuple[str, int, int, int, int, int, int]]:
    """(path, partition, rows, min_offset, max_offset, min_time, max_time) from the catalog."""
    con = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT path, partition, rows, min_offset, max_offset, min_time, max_time "
            "FROM files ORDER BY path"
        ).fetchall()
    finally:
        con.close()
    return [tuple(row) for row in rows]


def catalog_monitors(root: Path, *, state: bool = False) -> list[tuple[Any, ...]]:
    """(stream, kind, name, spec, from_offset) of every monitor in the catalog, in the order
    they were added; with ``state`` also the monitor's running state, which a trigger saves as
    the clock moves (so only a test that holds the clock still can compare it)."""
    columns = "stream, kind, name, spec, from_offset" + (", state" if state else "")
    con = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT {columns} FROM monitors ORDER BY rowid").fetchall()
    finally:
        con.close()


def file_offsets(path: Path) -> list[int]:
    """The _offset column of a sealed file."""
    return [int(v) for v in pq.read_table(path).column("_offset").to_pylist()]


def file_times(path: Path, column: str) -> list[int]:
    """A sealed file's time column as epoch microseconds."""
    values = pq.read_table(path).column(column).cast(pa.int64()).to_pylist()
    return [int(v) for v in values]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` every few milliseconds until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def within(timeout: float, call: Callable[[], Any]) -> list[Any]:
    """``[call()]`` if it returns within ``timeout`` seconds, else ``[]`` (it goes on, on a
    daemon thread): for a call that would block on a lock the code under test holds."""
    result: list[Any] = []
    helper = threading.Thread(target=lambda: result.append(call()), daemon=True)
    helper.start()
    helper.join(timeout)
    return result


class Endpoint:
    """A webhook receiver on 127.0.0.1 (a free port, served from a thread): keeps the JSON
    bodies it accepts.  It answers HTTP 500 to the first ``fail_first`` requests, and with a
    ``gate`` it holds every request until the gate opens."""

    def __init__(self, fail_first: int = 0, gate: threading.Event | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.entered = threading.Event()
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with endpoint._lock:
                    endpoint.attempts += 1
                    attempt = endpoint.attempts
                if gate is not None:
                    endpoint.entered.set()
                    gate.wait(timeout=30)
                if attempt <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                assert self.headers["Content-Type"] == "application/json"
                with endpoint._lock:
                    endpoint.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def reference(tables: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """A separate DuckDB connection holding ``tables`` as views, in UTC: the expected answers."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        con.register(name, table)
    return con


def count(db: rillet.Database, stream: str) -> int:
    """count(*) of a stream through db.sql."""
    row = db.sql(f'SELECT count(*) FROM "{stream}"').fetchone()
    assert row is not None
    return int(row[0])


def ref_rows(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> list[tuple[Any, ...]]:
    """A reference query's rows as tuples, via Arrow (TIMESTAMPTZ as aware datetimes)."""
    relation = con.sql(query, params=params) if params is not None else con.sql(query)
    columns = [column.to_pylist() for column in relation.to_arrow_table().columns]
    return list(zip(*columns, strict=True))


class FakeClock:
    """The clock triggers consult for idleness, moved by hand.  The alarms rillet sleeps on
    attach to it (:mod:`rillet.clock`): each move rings them, and :meth:`settle` waits until
    every one has done what the new time asks (judged the idle triggers, stored the alerts)
    and sleeps again.  ``start`` is epoch seconds or a datetime."""

    def __init__(self, start: float | dt.datetime) -> None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
        self._now = (start - epoch).total_seconds() if isinstance(start, dt.datetime) else start
        self._lock = threading.Lock()
        self._alarms: list[Alarm] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def attach(self, alarm: Alarm) -> None:
        with self._lock:
            self._alarms.append(alarm)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            alarms = list(self._alarms)
        for alarm in alarms:
            alarm.ring()

    def settle(self) -> None:
        """Return once nothing is due at the time now: every alarm on this clock is closed,
        or asleep (not poked) until a later time.  Records appended before are judged first
        where the test waited for them (a query, ``flush``); a batch still on its way pokes
        the alarm when it is observed."""
        with self._lock:
            alarms = list(self._alarms)
        now = self()
        assert wait_until(lambda: all(a.settled(now) for a in alarms)), "an alarm never slept"


def integer(value: object) -> int:
    """An aggregate's value that must be an int (a COUNT, a SUM of integers)."""
    assert isinstance(value, int) and not isinstance(value, bool), value
    return value


def number(value: object) -> float:
    """An aggregate's value that must be a number."""
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return value


def hold_up_appends(
    monkeypatch: pytest.MonkeyPatch, stream: str
) -> tuple[threading.Event, threading.Event]:
    """Make every ``append_many`` to ``stream`` wait for a gate: returns (entered, gate),
    ``entered`` set once one is waiting, ``gate`` to set to let it go on."""
    entered, gate = threading.Event(), threading.Event()
    original = rillet.Stream.append_many

    def held_up(self: rillet.Stream, data: Any) -> int:
        if self.name == stream:
            entered.set()
            gate.wait()
        return original(self, data)

    monkeypatch.setattr(rillet.Stream, "append_many", held_up)
    return entered, gate


def assert_parse_error(
    parse: Callable[[str], object],
    text: str,
    at: tuple[int, int],
    expected: str,
    message: str | None = None,
) -> rillet.errors.ParseError:
    """``parse(text)`` raises a ParseError (an InputError) at ``at`` (line, col) that
    expected ``expected`` and, if given, reads ``message``; the error, for further checks."""
    with pytest.raises(rillet.errors.ParseError) as info:
        parse(text)
    error = info.value
    assert (error.line, error.col, error.expected) == (*at, expected), str(error)
    if message is not None:
        assert str(error) == message
    assert isinstance(error, rillet.errors.InputError)
    return error
