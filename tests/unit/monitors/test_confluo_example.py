"""Confluo's own example (shared/reference/confluo.txt), with rillet's names, end to end.

Same schema, the same three records appended as 4-value tuples (stamped with their ingest
time), the same index, filter, aggregate and trigger, and the same reads, with the answers
worked out by hand: records 2 and 3 (offsets 1 and 2) have cpu_util 0.9 > 0.8 and mem_avail
< 0.1, so both filters match offsets [1, 2], the aggregate is max(500, 1001) = 1001.0, and
the trigger fires once, for the one-second window of the 1001 ms record, once it closes.
With Confluo's millisecond-scale checks (a period of 100 ms or 10 ms, no other argument),
the window is that period's around the 1001 ms record.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

import rillet
from tests.unit.support import MANUAL, FakeClock, wait_until

SCHEMA = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)
RECORDS = [
    (100.0, 0.5, 0.9, "INFO: Launched 1 tasks"),
    (500.0, 0.9, 0.05, "WARN: Server {2} down"),
    (1001.0, 0.9, 0.03, "WARN: Server {2, 4, 5} down"),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


#: the trigger's period: Confluo's example gives none (1 s); then 100 ms and 10 ms
PERIODS = [None, "100ms", "10ms"]
PERIOD_US = {None: 1_000_000, "100ms": 100_000, "10ms": 10_000}


def perf_log(db: rillet.Database, period: str | None = None) -> rillet.Stream:
    s = db.create_stream("perf_log", SCHEMA, time_column="timestamp")
    s.add_index("op_latency_ms", bucket_size=1.0)
    s.add_filter("low_resources", "cpu_util>0.8 || mem_avail<0.1")
    s.add_aggregate("max_latency_ms", "low_resources", "MAX(op_latency_ms)")
    if period is None:
        s.install_trigger("high_latency_trigger", "max_latency_ms > 1000")
    else:
        s.install_trigger("high_latency_trigger", "max_latency_ms > 1000", period=period)
    return s


def floor(when: dt.datetime, width_us: int) -> dt.datetime:
    """The start of the window of ``width_us`` that holds ``when``."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micros = (when - epoch) // dt.timedelta(microseconds=1)
    return epoch + dt.timedelta(microseconds=micros // width_us * width_us)


@pytest.mark.parametrize("period", PERIODS)
def test_confluo_example(db: rillet.Database, clock: FakeClock, period: str | None) -> None:
    s = perf_log(db, period)
    width = PERIOD_US[period]
    # the aggregate's buckets follow the trigger's period, with no argument asking
    assert s.monitors.aggregates["max_latency_ms"].resolution_us == width
    delivered: list[rillet.Alert] = []
    s.on_alert(delivered.append)

    now = dt.datetime.fromtimestamp(clock(), dt.UTC)  # the database's clock stamps them
    off1 = s.append(RECORDS[0])
    off2 = s.append(RECORDS[1])
    off3 = s.append(RECORDS[2])
    assert (off1, off2, off3) == (0, 1, 2)

    # Read the written data: the values as given, each stamped with its ingest time.
    records = [s.read(off1), s.read(off2), s.read(off3)]
    for record, offset, values in zip(records, (0, 1, 2), RECORDS, strict=True):
        assert record.offset == offset
        assert (
            record["op_latency_ms"],
            record["cpu_util"],
            record["mem_avail"],
            record["log_msg"],
        ) == values
        stamp = record["timestamp"]
        assert abs(stamp - now) <= dt.timedelta(microseconds=1)
    assert records[0]["timestamp"] <= records[1]["timestamp"] <= records[2]["timestamp"]

    # Query using indexes (ad hoc): 0.9 > 0.5 for records 2 and 3; record 1 has neither.
    found = s.execute_filter("cpu_util>0.5 || mem_avail<0.5")
    assert found.offsets.tolist() == [1, 2]
    assert [dict(r) for r in found] == [dict(records[1]), dict(records[2])]

    # Query using filters: what low_resources matched, over all of time.
    matched = s.query_filter("low_resources", 0, sys.maxsize)
    assert matched.offsets.tolist() == [1, 2]
    assert [r["log_msg"] for r in matched] == [RECORDS[1][3], RECORDS[2][3]]

    # Query an aggregate.
    assert s.get_aggregate("max_latency_ms", 0, sys.maxsize) == 1001.0

    # No alert while the window of the last record is open (the clock has not moved).
    clock.settle()
    assert s.get_alerts(0, sys.maxsize, "high_latency_trigger") == []

    # Idle for longer than the period: the window closes and the trigger fires once.
    clock.advance(60.0)
    assert wait_until(lambda: len(s.get_alerts(0, sys.maxsize, "high_latency_trigger")) > 0)
    clock.settle()
    alerts = s.get_alerts(0, sys.maxsize, "high_latency_trigger")
    window = floor(records[2]["timestamp"], width)
    expected = rillet.Alert(
        "high_latency_trigger",
        window,
        1001.0,
        "max_latency_ms > 1000",
        "max_latency_ms",
        "perf_log",
    )
    assert alerts == [expected]

    # The alert is a record of the stream perf_log.alerts, and reached the callback.
    rows = db.sql(
        'SELECT time, trigger, condition, aggregate, value FROM "perf_log.alerts"'
    ).fetchall()
    assert rows == [
        (window, "high_latency_trigger", "max_latency_ms > 1000", "max_latency_ms", 1001.0)
    ]
    assert wait_until(lambda: len(delivered) > 0)
    assert delivered == [expected]


@pytest.mark.parametrize("period", PERIODS)
def test_confluo_example_with_explicit_times(db: rillet.Database, period: str | None) -> None:
    """The same records with event times given (100 ms apart): the trigger fires as soon as
    a later record moves event time past the end of the 1001 ms record's window (no clock
    needed).  With a 100 ms or 10 ms period, that window is [200 ms, 200 ms + period), and
    the 500 ms record's own window, closed before it, raises nothing."""
    s = perf_log(db, period)
    width = dt.timedelta(microseconds=PERIOD_US[period])
    base = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    s.append_many([(base + dt.timedelta(milliseconds=100 * i), *r) for i, r in enumerate(RECORDS)])
    assert s.query_filter("low_resources", 0, sys.maxsize).offsets.tolist() == [1, 2]
    assert s.get_aggregate("max_latency_ms", 0, sys.maxsize) == 1001.0
    # the 500 ms record's window alone, where the buckets are finer than the 200 ms between
    alone = s.get_aggregate("max_latency_ms", base, base + dt.timedelta(milliseconds=150))
    assert alone == (1001.0 if period is None else 500.0)
    assert s.get_alerts(0, sys.maxsize) == []
    window = base if period is None else base + dt.timedelta(milliseconds=200)
    s.append_many([(window + width - dt.timedelta(microseconds=1), 5.0, 0.1, 0.9, "INFO: idle")])
    assert s.get_alerts(0, sys.maxsize) == []  # event time is still inside the window
    s.append_many([(window + width, 5.0, 0.1, 0.9, "INFO: idle")])
    assert s.get_alerts(0, sys.maxsize, "high_latency_trigger") == [
        rillet.Alert(
            "high_latency_trigger",
            window,
            1001.0,
            "max_latency_ms > 1000",
            "max_latency_ms",
            "perf_log",
        )
    ]


def test_query_filter_sees_records_appended_just_before(tmp_path: Path) -> None:
    # A long commit interval makes 'before the committer ran' deterministic.
    with rillet.connect(tmp_path / "data", commit_interval=60.0, **MANUAL) as db:
        s = perf_log(db)
        for values in RECORDS:
            s.append(values)
        assert s.query_filter("low_resources", 0, sys.maxsize).offsets.tolist() == [1, 2]
        assert s.get_aggregate("max_latency_ms", 0, sys.maxsize) == 1001.0
