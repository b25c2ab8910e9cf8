"""The monitors' worker thread: appenders hand batches over and go on; every query, ``flush``
and ``close`` sees what was appended before it.  Expected values are plain Python counts."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

import rillet
from rillet.monitors.monitor_set import MonitorSet
from tests.unit.support import DAY, MANUAL, integer, wait_until

SCHEMA = "ts TIMESTAMP, host STRING, v DOUBLE"
D = dt.timedelta


def batch(first: int, n: int) -> list[tuple[object, ...]]:
    """``n`` records, a millisecond apart from record ``first`` on; v is the record's number."""
    return [(DAY + D(milliseconds=i), "ab"[i % 2], float(i)) for i in range(first, first + n)]


def monitored(db: rillet.Database) -> rillet.Stream:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("odd", "host = 'b'")
    s.add_aggregate("n", None, "COUNT(*)")
    s.add_aggregate("top", "odd", "MAX(v)")
    return s


def test_each_query_sees_every_record_appended_before_it(mem: rillet.Database) -> None:
    s = monitored(mem)
    for k in range(40):  # more batches than the queue holds, queried after each
        s.append_many(batch(k * 50, 50))
        total = (k + 1) * 50
        assert s.get_aggregate("n") == total
        assert len(s.query_filter("odd", None, None)) == total // 2
        assert s.get_aggregate("top") == float(total - 1)
    for i in range(7):  # single records, through the buffer
        s.append((DAY + D(seconds=10, milliseconds=i), "b", 1e6 + i))
    assert s.get_aggregate("n") == 2007
    assert s.execute_filter("v >= 1000000").offsets.tolist() == list(range(2000, 2007))


def test_concurrent_appenders_and_a_reader(mem: rillet.Database) -> None:
    s = monitored(mem)
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(integer(s.get_aggregate("n")))

    def write(part: int) -> None:
        for k in range(25):
            s.append_many(batch((part * 25 + k) * 40, 40))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert seen == sorted(seen)  # counts only grow
    assert s.get_aggregate("n") == 4 * 25 * 40
    assert s.get_aggregate("top") == float(4 * 25 * 40 - 1)


def test_a_failure_in_the_worker_stops_neither_it_nor_the_queries(
    mem: rillet.Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    s = monitored(mem)
    original = MonitorSet._evaluate
    calls = {"n": 0}

    def once_broken(self: MonitorSet, *args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug in a monitor")
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(MonitorSet, "_evaluate", once_broken)
    for k in range(3):  # one at a time (batches that queue up are evaluated together)
        s.append_many(batch(k * 10, 10))
        s.flush()
    assert s.get_aggregate("n") == 20  # the second batch was skipped, and logged
    assert "monitors of stream 'm' failed on a batch" in caplog.text
    s.append_many(batch(30, 10))
    assert s.get_aggregate("n") == 30


def test_close_stores_the_alerts_of_the_last_batches(tmp_path: Path) -> None:
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        s = monitored(db)
        s.install_trigger("hot", "top > 100", period="1s")
        s.append_many(batch(0, 1500))  # max v of the odd records: 999 in [0 s, 1 s)
        # closed at once: the worker may not have evaluated the batch yet
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        alerts = db.stream("m").get_alerts()
        assert [(a.trigger, a.time, a.value) for a in alerts] == [("hot", DAY, 999.0)]


def test_a_query_waits_for_what_was_appended_before_it_not_for_idleness(
    mem: rillet.Database,
) -> None:
    """While another thread appends without pause, queries still return."""
    s = monitored(mem)
    # a slow monitor (a sketch per second of a spread-out batch): the worker always lags,
    # so its queue is never empty while the appender runs
    s.add_aggregate("q", None, "APPROX_QUANTILE(v, 0.5)")
    spread = [(DAY + D(seconds=i), "a", float(i)) for i in range(2000)]
    stop = threading.Event()

    def append_forever() -> None:
        while not stop.is_set():
            s.append_many(spread)

    appender = threading.Thread(target=append_forever)
    appender.start()
    monitors = s.monitors
    # the worker is busy and behind: batches handed to it that it has not evaluated yet
    assert wait_until(lambda: monitors.lag >= 2)
    answers: list[int] = []
    reader = threading.Thread(
        target=lambda: answers.extend(integer(s.get_aggregate("n")) for _ in range(5))
    )
    reader.start()
    reader.join(timeout=30)  # liveness: before the fix the reader waited for the appender
    finished = not reader.is_alive()
    stop.set()
    appender.join()
    reader.join()
    assert finished and len(answers) == 5


def test_drop_stream_while_appending_leaves_no_alerts_stream(tmp_path: Path) -> None:
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        s = monitored(db)
        s.install_trigger("hot", "top > 10", period="1s")
        stop = threading.Event()

        def append() -> None:
            k = 0
            while not stop.is_set():
                try:
                    s.append_many(batch(k * 1000, 1000))
                except rillet.errors.RilletError:
                    return  # the stream is gone
                k += 1

        appender = threading.Thread(target=append)
        appender.start()
        db.drop_stream("m")
        stop.set()
        appender.join()
        assert [x.name for x in db.streams()] == []
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        assert [x.name for x in db.streams()] == []


def test_retention_waits_for_the_monitors(mem: rillet.Database) -> None:
    """A batch still queued for the monitors when retention drops its hour is not counted
    after the drop; the indexes stop answering alone once records were dropped."""
    s = mem.create_stream(
        "r", "ts TIMESTAMP, v DOUBLE", time_column="ts", partition="1h", retention="1h"
    )
    s.add_index("v", bucket_size=1.0)
    s.add_filter("all", "v >= 0")
    s.add_aggregate("n", None, "COUNT(*)")
    s.add_aggregate("q", None, "APPROX_QUANTILE(v, 0.5)")  # keeps the worker busy
    later = [(DAY + D(hours=5, seconds=i), 1.0) for i in range(3000)]
    for _ in range(3):
        s.append_many(later)
    s.append_many([(DAY + D(seconds=i), 2.0) for i in range(3000)] + later[:10])
    assert s.apply_retention() == [int(DAY.timestamp() * 1_000_000)]
    stored = mem.sql("SELECT count(*) FROM r").fetchall()[0][0]
    assert stored == 9010
    assert s.get_aggregate("n") == stored
    assert len(s.query_filter("all", None, None)) == stored
    assert len(s.execute_filter("v > 1.5")) == 0  # the dropped hour held every v = 2.0
    assert s.get_aggregate("n", DAY, DAY + D(days=1)) == stored  # the day state made again


def test_with_retention_a_resolution_must_divide_the_partitions(mem: rillet.Database) -> None:
    """Retention drops whole partitions: a 7 s bucket across an hour's start would lose
    kept records with the dropped ones, so such a resolution is refused, changing nothing."""
    s = mem.create_stream("k", SCHEMA, time_column="ts", partition="1h", retention="2h")
    s.add_filter("odd", "host = 'b'", resolution="7s")  # filters cut their matches exactly
    with pytest.raises(rillet.errors.ConfigError) as caught:
        s.add_aggregate("n", "odd", "COUNT(*)")
    assert str(caught.value) == (
        "resolution of aggregate 'n' (7s, given to filter 'odd') must divide the partitions "
        "(1h) of stream 'k': retention drops whole partitions; give the aggregate a "
        "resolution that does, or none (automatic)"
    )
    with pytest.raises(rillet.errors.ConfigError) as caught:
        s.add_aggregate("n", None, "COUNT(*)", resolution="daily")
    assert str(caught.value) == (
        "resolution of aggregate 'n' (1d) must divide the partitions (1h) of stream 'k': "
        "retention drops whole partitions; give the aggregate a resolution that does, or "
        "none (automatic)"
    )
    assert list(s.monitors.aggregates) == []
    s.add_aggregate("n", None, "COUNT(*)", resolution="90s")  # 40 of them make an hour
    s.append_many([(DAY + D(seconds=3598 + i), "a", float(i)) for i in range(4)])
    s.append_many([(DAY + D(hours=3, minutes=30), "a", 9.0)])  # hour 0 goes, hour 1 stays
    assert s.apply_retention() == [int(DAY.timestamp() * 1_000_000)]
    assert s.get_aggregate("n") == mem.sql("SELECT count(*) FROM k").fetchall()[0][0] == 3


def test_with_retention_an_automatic_resolution_divides_the_partitions(
    mem: rillet.Database,
) -> None:
    """Partitions of 1500 ms, which a second does not divide: an aggregate given no
    resolution takes 500 ms buckets, and a trigger of 200 ms makes them 100 ms."""
    s = mem.create_stream("k", SCHEMA, time_column="ts", partition="1500ms", retention="3s")
    s.add_aggregate("n", None, "COUNT(*)")
    assert s.monitors.aggregates["n"].resolution_us == 500_000
    s.append_many([(DAY + D(milliseconds=100 * i), "a", float(i)) for i in range(30)])
    s.install_trigger("many", "n > 100", period="200ms")
    assert s.monitors.aggregates["n"].resolution_us == 100_000
    assert s.get_aggregate("n", DAY, DAY + D(milliseconds=250)) == 3  # 0, 100 and 200 ms
    s.append_many([(DAY + D(seconds=6), "a", 0.0)])
    assert s.apply_retention() != []
    stored = mem.sql("SELECT count(*) FROM k").fetchall()[0][0]
    assert s.get_aggregate("n") == stored < 31
