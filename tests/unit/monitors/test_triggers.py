"""Triggers: a condition over aggregates, judged once per period on closed windows.

A window ``[start, start + period)`` closes when event time reaches its end (a later record
arrives) or when the stream has been idle for a whole period by the injected clock.  Each
firing is an Alert, kept in the stream ``<stream>.alerts``.  Expected alerts are hand-worked.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

import rillet
from rillet import errors
from tests.unit.support import DAY, MANUAL, FakeClock, wait_until

SCHEMA = "ts TIMESTAMP, host STRING, v DOUBLE"
D = dt.timedelta
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    # an hour after the records' event times: idleness, when the clock moves, closes windows
    return FakeClock(DAY + D(hours=1))


@pytest.fixture
def db(mem: rillet.Database) -> rillet.Database:
    """Here ``db`` is conftest's in-memory database, on the FakeClock above."""
    return mem


def alert(
    second: float, value: float, trigger: str = "hot", condition: str = "mx > 10", agg: str = "mx"
) -> rillet.Alert:
    return rillet.Alert(trigger, DAY + D(seconds=second), value, condition, agg, "m")


def stream(db: rillet.Database, period: str = "10s") -> rillet.Stream:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.add_aggregate("n", None, "COUNT(*)")
    s.install_trigger("hot", "mx > 10", period=period)
    return s


def rows(*pairs: tuple[float, float], host: str = "a") -> list[tuple[object, ...]]:
    return [(DAY + D(seconds=second), host, value) for second, value in pairs]


def test_windows_close_as_event_time_passes_their_end(
    db: rillet.Database, clock: FakeClock
) -> None:
    s = stream(db)
    s.append_many(rows((1, 5.0), (3, 20.0), (9.999999, 1.0)))
    clock.wait_for_checks()
    assert s.get_alerts() == []  # [0 s, 10 s) is still open
    s.append_many(rows((10, 1.0)))  # event time reaches 10 s: the window closes
    assert s.get_alerts() == [alert(0, 20.0)]
    # several windows close at once, one alert for each where the condition holds
    s.append_many(rows((15, 7.0), (27, 30.0), (33, 11.0), (45, 2.0), (52, 99.0)))
    expected = [alert(0, 20.0), alert(20, 30.0), alert(30, 11.0)]
    assert s.get_alerts() == expected
    # a late record in a window already judged changes its aggregate, not its alerts
    s.append_many(rows((25, 1000.0), (41, 50.0)))
    assert s.get_aggregate("mx", DAY + D(seconds=40), DAY + D(seconds=50)) == 50.0
    clock.wait_for_checks()
    assert s.get_alerts() == expected
    # queries by time range (of the window start) and by trigger
    assert s.get_alerts(DAY + D(seconds=10), DAY + D(seconds=30), "hot") == [alert(20, 30.0)]
    assert s.get_alerts(DAY + D(seconds=20), None) == expected[1:]
    assert s.get_alerts(0, sys.maxsize, "hot") == expected
    assert s.get_alerts(DAY + D(seconds=31)) == []
    rows_ = db.sql(
        'SELECT time, trigger, condition, aggregate, value FROM "m.alerts" ORDER BY time'
    ).fetchall()
    assert rows_ == [(a.time, "hot", "mx > 10", "mx", a.value) for a in expected]
    # the window in progress ([50 s, 60 s), max 99) fires once event time passes it
    s.append_many(rows((60, 0.0)))
    assert s.get_alerts() == [*expected, alert(50, 99.0)]


def test_idle_stream_closes_its_window(db: rillet.Database, clock: FakeClock) -> None:
    s = stream(db)
    s.append_many(rows((1, 50.0), (2, 3.0)))
    clock.advance(9.5)  # idle, but not for a whole period
    clock.wait_for_checks()
    assert s.get_alerts() == []
    clock.advance(0.5)  # idle for 10 s: [0 s, 10 s) closes
    assert wait_until(lambda: s.get_alerts() != [])
    clock.wait_for_checks()
    assert s.get_alerts() == [alert(0, 50.0)]
    # the next window: nothing until idle again, then one alert
    s.append_many(rows((21, 12.5)))
    clock.wait_for_checks()
    assert s.get_alerts() == [alert(0, 50.0)]
    clock.advance(60)
    assert wait_until(lambda: len(s.get_alerts()) == 2)
    clock.wait_for_checks()
    assert s.get_alerts() == [alert(0, 50.0), alert(20, 12.5)]
    # a window whose condition does not hold closes without an alert
    s.append_many(rows((31, 10.0)))
    clock.advance(60)
    clock.wait_for_checks(4)
    assert s.get_alerts() == [alert(0, 50.0), alert(20, 12.5)]


def test_condition_over_two_aggregates(db: rillet.Database) -> None:
    """The alert carries the value of the first aggregate its condition names."""
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_filter("from_a", "host = 'a'")
    s.add_aggregate("mx", "from_a", "MAX(v)")
    s.add_aggregate("n", "from_a", "COUNT(*)")
    s.install_trigger("busy_hot", "mx > 10 AND n >= 2", period="10s")
    s.install_trigger("busy", "n >= 2 && mx > 10", period="10s")
    s.append_many(rows((1, 20.0)))  # one record: not busy
    s.append_many(rows((2, 99.0), (3, 98.0), host="b"))  # not from host a
    s.append_many(rows((11, 15.0), (12, 12.0), (13, 1.0)))  # busy and hot: max 15, 3 records
    s.append_many(rows((21, 5.0), (22, 6.0)))  # busy, not hot
    s.append_many(rows((30, 0.0), host="b"))  # closes [20 s, 30 s)
    assert s.get_alerts(None, None, "busy_hot") == [
        alert(10, 15.0, "busy_hot", "mx > 10 AND n >= 2", "mx")
    ]
    assert s.get_alerts(None, None, "busy") == [alert(10, 3, "busy", "n >= 2 && mx > 10", "n")]
    # one check judges the triggers in the order they were installed
    assert [a.trigger for a in s.get_alerts()] == ["busy_hot", "busy"]


def test_new_trigger_judges_the_window_in_progress_not_older_ones(db: rillet.Database) -> None:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.append_many(rows((1, 50.0), (12, 60.0), (15, 5.0)))  # event time is at 15 s
    s.install_trigger("hot", "mx > 10", period="10s")
    s.append_many(rows((20, 0.0)))
    assert s.get_alerts() == [alert(10, 60.0)]


def test_period_and_windows_are_aligned(db: rillet.Database) -> None:
    s = stream(db, period="1m")
    s.append_many(rows((59, 11.0), (60, 1.0), (119.5, 12.0), (121, 0.0)))
    assert s.get_alerts() == [alert(0, 11.0), alert(60, 12.0)]


def test_removed_trigger_fires_no_more(db: rillet.Database) -> None:
    s = stream(db)
    s.append_many(rows((1, 50.0), (10, 50.0)))
    assert s.get_alerts() == [alert(0, 50.0)]
    with pytest.raises(errors.ConflictError, match="aggregate 'mx' is used by hot"):
        s.remove_aggregate("mx")
    s.remove_trigger("hot")
    s.append_many(rows((20, 50.0)))
    assert s.get_alerts() == [alert(0, 50.0)]  # the alerts stay in the alerts stream
    with pytest.raises(errors.NotFoundError, match="unknown trigger 'hot' on stream 'm'"):
        s.get_alerts(None, None, "hot")
    s.remove_aggregate("mx")
    assert db.sql('SELECT count(*) FROM "m.alerts"').fetchall() == [(1,)]


def test_no_duplicate_alerts_after_restart(tmp_path: Path) -> None:
    clock = FakeClock(DAY + D(hours=1))
    folder = tmp_path / "data"
    with rillet.connect(folder, clock=clock, **MANUAL) as db:
        s = stream(db)
        s.append_many(rows((1, 50.0), (12, 60.0), (25, 70.0)))  # [20 s, 30 s) stays open
        assert s.get_alerts() == [alert(0, 50.0), alert(10, 60.0)]
    for _ in range(2):
        clock = FakeClock(DAY + D(hours=2))
        with rillet.connect(folder, clock=clock, **MANUAL) as db:
            s = db.stream("m")
            clock.wait_for_checks()
            assert s.get_alerts() == [alert(0, 50.0), alert(10, 60.0)]
    clock = FakeClock(DAY + D(hours=3))
    with rillet.connect(folder, clock=clock, **MANUAL) as db:
        s = db.stream("m")
        clock.advance(10)  # idle for a period after the reopening: [20 s, 30 s) closes
        assert wait_until(lambda: len(s.get_alerts()) == 3)
        clock.wait_for_checks()
        s.append_many(rows((31, 1.0), (40, 1.0)))
    with rillet.connect(folder, clock=FakeClock(DAY + D(hours=4)), **MANUAL) as db:
        s = db.stream("m")
        assert s.get_alerts() == [alert(0, 50.0), alert(10, 60.0), alert(20, 70.0)]
        assert db.sql('SELECT count(*) FROM "m.alerts"').fetchall() == [(3,)]


def test_idleness_closes_only_the_windows_of_triggers_idle_for_their_period(
    db: rillet.Database, clock: FakeClock
) -> None:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.install_trigger("fast", "mx > 100", period="1s")
    s.install_trigger("slow", "mx > 0", period="1h")
    s.append_many(rows((3599.5, 1.0)))
    clock.advance(2)  # idle for 2 s: a whole period of 'fast', not of 'slow'
    clock.wait_for_checks(4)
    assert s.get_alerts(None, None, "slow") == []


def test_trigger_over_a_large_integer_sum(db: rillet.Database) -> None:
    s = db.create_stream("m", "ts TIMESTAMP, i INT", time_column="ts")
    s.add_aggregate("total", None, "SUM(i)")
    s.install_trigger("big", "total > 100", period="1s")
    s.append_many([(DAY, 2_000_000_000), (DAY + D(seconds=0.5), 2_000_000_000)])
    assert s.get_aggregate("total") == 4_000_000_000
    s.append_many([(DAY + D(seconds=2), 1)])
    assert s.get_alerts() == [
        rillet.Alert("big", DAY, 4_000_000_000.0, "total > 100", "total", "m")
    ]
