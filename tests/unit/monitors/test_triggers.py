"""Triggers: a condition over aggregates, judged once per period on closed windows.

A window ``[start, start + period)`` closes when event time reaches its end (a later record
arrives) or when the stream has been idle for a whole period by the injected clock.  Each
firing is an Alert, kept in the stream ``<stream>.alerts``.  Expected alerts are hand-worked.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pytest

import rillet
from rillet import errors
from rillet.monitors.monitor_set import MonitorSet
from rillet.monitors.observed import Monitor
from tests.unit.support import DAY, MANUAL, FakeClock, hold_up_appends, wait_until

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
    clock.settle()
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
    clock.settle()
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
    clock.settle()
    assert s.get_alerts() == []
    clock.advance(0.5)  # idle for 10 s: [0 s, 10 s) closes
    assert wait_until(lambda: s.get_alerts() != [])
    clock.settle()
    assert s.get_alerts() == [alert(0, 50.0)]
    # the next window: nothing until idle again, then one alert
    s.append_many(rows((21, 12.5)))
    clock.settle()
    assert s.get_alerts() == [alert(0, 50.0)]
    clock.advance(60)
    assert wait_until(lambda: len(s.get_alerts()) == 2)
    clock.settle()
    assert s.get_alerts() == [alert(0, 50.0), alert(20, 12.5)]
    # a window whose condition does not hold closes without an alert
    s.append_many(rows((31, 10.0)))
    clock.advance(60)
    clock.settle()
    assert s.get_alerts() == [alert(0, 50.0), alert(20, 12.5)]


def test_idle_triggers_are_judged_off_the_commit_thread(
    db: rillet.Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alerts of a window closed by idleness are stored (held up here) by a thread of the
    monitors, not by the committer: group commit goes on for every stream meanwhile."""
    s = stream(db)
    other = db.create_stream("o", "ts TIMESTAMP, v DOUBLE", time_column="ts")
    entered, gate = hold_up_appends(monkeypatch, "m.alerts")

    class Committed:
        def observe(self, batch: pa.RecordBatch, history: bool) -> None:
            committed.append(batch.column(batch.num_columns - 1).to_pylist())

        def forget_before(self, start_us: int) -> None:
            pass

    committed: list[list[int]] = []
    other.subscribe(Committed(), "committed")  # handed each batch the stream ingests
    s.append_many(rows((1, 50.0)))
    s.flush()
    clock.advance(10)  # idle for a whole period: [0 s, 10 s) closes, its alert is held up
    try:
        assert entered.wait(timeout=10)
        offset = other.append((DAY, 1.0))  # buffered until the committer's next commit
        assert wait_until(lambda: committed == [[offset]])
    finally:
        gate.set()
    assert wait_until(lambda: s.get_alerts() == [alert(0, 50.0)])


def test_a_clock_behind_event_time_closes_a_window_when_it_reaches_its_end() -> None:
    """Idleness closes windows up to the clock, and no further than a period past event
    time: with records stamped ahead of the clock, the window closes when the clock (not a
    poll of it) reaches its end."""
    clock = FakeClock(DAY + D(seconds=3))
    with rillet.connect(clock=clock, **MANUAL) as db:
        s = stream(db, period="1s")
        s.append_many(rows((5.5, 50.0)))
        s.flush()
        clock.advance(1)  # idle for a period, but the clock is before the window [5 s, 6 s)
        clock.settle()
        assert s.get_alerts() == []
        clock.advance(1.999999)  # 5.999999 s
        clock.settle()
        assert s.get_alerts() == []
        clock.advance(0.000001)  # 6 s: the window's end
        clock.settle()
        assert s.get_alerts() == [alert(5, 50.0)]


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
            clock.settle()
            assert s.get_alerts() == [alert(0, 50.0), alert(10, 60.0)]
    clock = FakeClock(DAY + D(hours=3))
    with rillet.connect(folder, clock=clock, **MANUAL) as db:
        s = db.stream("m")
        clock.advance(10)  # idle for a period after the reopening: [20 s, 30 s) closes
        assert wait_until(lambda: len(s.get_alerts()) == 3)
        clock.settle()
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
    clock.settle()
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


def test_a_bigint_sum_past_int64_is_judged_as_double_window_by_window(
    db: rillet.Database,
) -> None:
    s = db.create_stream("m", "ts TIMESTAMP, i BIGINT", time_column="ts")
    s.add_aggregate("total", None, "SUM(i)")
    s.add_aggregate("n", None, "COUNT(*)")
    s.install_trigger("huge", "total > 1e19", period="1s")
    s.install_trigger("odd", "total % 2 = 1 AND total + 1 > n", period="1s")
    big = 2**62
    s.append_many(
        [(DAY + D(seconds=k / 10), big) for k in range(5)]  # second 0: 5 * 2**62 > 2**63
        + [(DAY + D(seconds=1), 3), (DAY + D(seconds=3), 1)]  # second 1: 3
    )
    assert s.get_aggregate("total", DAY, DAY + D(seconds=1)) == 5 * big  # exact, as DuckDB
    alerts = {(a.trigger, a.time): a.value for a in s.get_alerts()}
    assert alerts == {
        ("huge", DAY): float(5 * big),
        ("odd", DAY + D(seconds=1)): 3.0,
    }
    assert [t.errors for t in s.monitors.triggers.values()] == [0, 0]


# -- sub-second periods: automatic aggregates take buckets as fine as their triggers need ---

MS = 1_000  # microseconds
Timed = list[tuple[int, float]]  # (microseconds after DAY, v), host 'a'


def timed_rows(seed: int, start_us: int, end_us: int, n: int) -> Timed:
    """``n`` records at random microseconds of ``[start, end)`` after DAY, in time order."""
    rng = random.Random(seed)
    times = sorted(rng.randrange(start_us, end_us) for _ in range(n))
    return [(t, round(rng.uniform(0, 100), 2)) for t in times]


def append_shuffled(s: rillet.Stream, records: Timed, seed: int, batch: int = 100) -> None:
    """In batches of increasing time (no record late for a window already judged), each
    batch in random order."""
    rng = random.Random(seed)
    for first in range(0, len(records), batch):
        chunk = records[first : first + batch]
        rng.shuffle(chunk)
        s.append_many([(DAY + D(microseconds=t), "a", v) for t, v in chunk])


def windows(records: Timed, width_us: int) -> dict[int, list[float]]:
    """The values of each window of ``width_us`` (start, after DAY) that holds records."""
    found: dict[int, list[float]] = {}
    for t, v in records:
        found.setdefault(t // width_us * width_us, []).append(v)
    return found


def expected_alerts(
    records: Timed,
    period_us: int,
    trigger: str,
    condition: str,
    fires: Callable[[list[float]], float | None],
    since_us: int = -(2**62),
) -> list[rillet.Alert]:
    """Plain Python: an alert for each window from ``since`` on that closed (a record at or
    after its end) and where ``fires`` gives the value of the condition's first aggregate."""
    newest = max(t for t, _ in records)
    alerts = []
    for start, values in sorted(windows(records, period_us).items()):
        value = fires(values)
        if start >= since_us and start + period_us <= newest and value is not None:
            at = DAY + D(microseconds=start)
            alerts.append(rillet.Alert(trigger, at, value, condition, condition.split()[0], "m"))
    return alerts


def hot(threshold: float) -> Callable[[list[float]], float | None]:
    return lambda values: max(values) if max(values) > threshold else None


def busy(least: int) -> Callable[[list[float]], float | None]:
    return lambda values: len(values) if len(values) >= least else None


def check_ranges(s: rillet.Stream, records: Timed, name: str, width_us: int, seed: int) -> None:
    """get_aggregate of ``name`` (MAX(v) or COUNT(*)) over random ranges equals plain Python
    over the records of the range widened to whole buckets of ``width_us``."""
    rng = random.Random(seed)
    span = max(t for t, _ in records) + 50 * MS
    for _ in range(60):
        low, high = sorted(rng.randrange(span) for _ in range(2))
        first, last = low // width_us * width_us, -(-high // width_us) * width_us
        inside = [v for t, v in records if first <= t < last]
        want = len(inside) if name == "n" else (max(inside) if inside else None)
        got = s.get_aggregate(name, DAY + D(microseconds=low), DAY + D(microseconds=high))
        assert got == want, (name, width_us, low, high)


def by_trigger(alert: rillet.Alert) -> tuple[str, dt.datetime]:
    return (alert.trigger, alert.time)


def resolutions(s: rillet.Stream) -> dict[str, int]:
    return {name: a.resolution_us for name, a in s.monitors.aggregates.items()}


@pytest.mark.parametrize(("period_ms", "threshold", "least"), [(10, 90.0, 5), (100, 99.0, 41)])
def test_subsecond_periods_fire_with_exact_values(
    db: rillet.Database, period_ms: int, threshold: float, least: int
) -> None:
    """3 s of records, four per 10 ms on average: each window's MAX and COUNT are those of
    its own records (the aggregates' buckets are the period, with no argument asking)."""
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.add_aggregate("n", None, "COUNT(*)")
    s.install_trigger("hot", f"mx > {threshold}", period=f"{period_ms}ms")
    s.install_trigger("busy", f"n >= {least}", period=f"{period_ms}ms")
    period = period_ms * MS
    assert resolutions(s) == {"mx": period, "n": period}
    records = timed_rows(period_ms, 0, 3_000 * MS, 1200)
    append_shuffled(s, records, seed=period_ms)
    want_hot = expected_alerts(records, period, "hot", f"mx > {threshold}", hot(threshold))
    want_busy = expected_alerts(records, period, "busy", f"n >= {least}", busy(least))
    assert 5 < len(want_hot) < 3_000 // period_ms - 5  # some windows fire, some do not
    assert 5 < len(want_busy) < 3_000 // period_ms - 5
    assert s.get_alerts(None, None, "hot") == want_hot
    assert s.get_alerts(None, None, "busy") == want_busy
    check_ranges(s, records, "mx", period, seed=1)
    check_ranges(s, records, "n", period, seed=2)


def test_idle_stream_closes_a_100ms_window(db: rillet.Database, clock: FakeClock) -> None:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.install_trigger("hot", "mx > 10", period="100ms")
    s.append_many(rows((1.23, 50.0), (1.25, 3.0)))
    clock.advance(0.05)  # idle for half a period
    clock.settle()
    assert s.get_alerts() == []
    clock.advance(0.06)  # idle for a whole period (and a little: the clock is a float)
    assert wait_until(lambda: s.get_alerts() != [])
    clock.settle()
    assert s.get_alerts() == [alert(1.2, 50.0)]


def test_a_finer_trigger_rebuilds_its_aggregates_from_the_stored_records(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A 100 ms trigger over a 1 s aggregate holding history (sealed files and memory): the
    aggregate is rebuilt at 100 ms from the records, and the trigger judges the window in
    progress and later ones.  A 10 ms trigger makes it finer still; removing the triggers
    merges its buckets back to what the others need."""
    with rillet.connect(tmp_path / "data", clock=clock, **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
        s.add_aggregate("mx", None, "MAX(v)")
        s.add_aggregate("n", None, "COUNT(*)")
        old = timed_rows(1, 0, 2_000 * MS, 600)
        append_shuffled(s, old[:300], seed=1)
        assert s.seal(everything=True) >= 1
        append_shuffled(s, old[300:], seed=2)
        assert resolutions(s) == {"mx": 1_000 * MS, "n": 1_000 * MS}
        check_ranges(s, old, "mx", 1_000 * MS, seed=3)

        s.install_trigger("fast", "mx > 95", period="100ms")
        assert resolutions(s) == {"mx": 100 * MS, "n": 1_000 * MS}  # n has no trigger
        check_ranges(s, old, "mx", 100 * MS, seed=4)
        check_ranges(s, old, "n", 1_000 * MS, seed=5)
        since = max(t for t, _ in old) // (100 * MS) * (100 * MS)
        new = timed_rows(2, 2_000 * MS, 3_000 * MS, 300)
        append_shuffled(s, new, seed=3)
        everything = old + new
        fast = expected_alerts(everything, 100 * MS, "fast", "mx > 95", hot(95), since)
        assert len(fast) > 2
        assert s.get_alerts() == fast

        s.install_trigger("faster", "mx > 99", period="10ms")
        assert resolutions(s)["mx"] == 10 * MS
        check_ranges(s, everything, "mx", 10 * MS, seed=6)
        s.remove_trigger("faster")
        assert resolutions(s)["mx"] == 100 * MS
        check_ranges(s, everything, "mx", 100 * MS, seed=7)
        later = timed_rows(3, 3_000 * MS, 4_000 * MS, 300)
        append_shuffled(s, later, seed=4)
        everything += later
        fast = expected_alerts(everything, 100 * MS, "fast", "mx > 95", hot(95), since)
        assert s.get_alerts(None, None, "fast") == fast
        s.remove_trigger("fast")
        assert resolutions(s) == {"mx": 1_000 * MS, "n": 1_000 * MS}
        check_ranges(s, everything, "mx", 1_000 * MS, seed=8)


def test_a_trigger_whose_rebuild_fails_changes_nothing(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored records that cannot be read while a finer trigger rebuilds its aggregate: the
    error comes through, the trigger is not defined and the aggregate keeps its buckets."""
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.append_many(rows((0.25, 5.0), (0.75, 50.0)))

    def unreadable(*args: object, **kwargs: object) -> Iterator[object]:
        raise errors.StorageError("partition file unreadable")

    monkeypatch.setattr(s, "stored", unreadable)
    with pytest.raises(errors.StorageError, match="partition file unreadable"):
        s.install_trigger("fast", "mx > 10", period="100ms")
    monkeypatch.undo()
    assert list(s.monitors.triggers) == []
    assert resolutions(s) == {"mx": 1_000 * MS}
    assert s.get_aggregate("mx", DAY, DAY + D(seconds=0.5)) == 50.0  # the whole second
    s.install_trigger("fast", "mx > 10", period="100ms")  # the same call, readable again
    assert s.get_aggregate("mx", DAY, DAY + D(seconds=0.5)) == 5.0


def test_subsecond_triggers_after_restart(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reopened, automatic aggregates take the buckets of their triggers before the history
    is read (once), answer as before, raise no alert twice and go on firing exactly."""
    folder = tmp_path / "data"
    first = timed_rows(5, 0, 1_500 * MS, 500)
    with rillet.connect(folder, clock=clock, **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
        s.add_filter("from_a", "host = 'a'")
        s.add_aggregate("mx", "from_a", "MAX(v)")
        s.add_aggregate("n", None, "COUNT(*)")
        s.install_trigger("fast", "mx > 95", period="100ms")
        s.install_trigger("fastest", "n >= 3", period="10ms")
        append_shuffled(s, first[:250], seed=5)
        s.seal(everything=True)
        append_shuffled(s, first[250:], seed=6)
        before = s.get_alerts()
        want = expected_alerts(first, 100 * MS, "fast", "mx > 95", hot(95))
        want += expected_alerts(first, 10 * MS, "fastest", "n >= 3", busy(3))
        assert sorted(before, key=by_trigger) == want
        assert len(want) > 5
    replays: list[int] = []
    replay = MonitorSet._replay
    stored = rillet.Stream.stored

    def counted(self: MonitorSet, monitors: Sequence[Monitor], from_offset: int = 0) -> None:
        replays.append(len(monitors))
        replay(self, monitors, from_offset)

    def read(
        self: rillet.Stream, low: int = 0, high: int | None = None, dictionaries: bool = False
    ) -> Iterator[object]:
        replays.append(-1)
        return stored(self, low, high, dictionaries)

    monkeypatch.setattr(MonitorSet, "_replay", counted)
    monkeypatch.setattr(rillet.Stream, "stored", read)
    with rillet.connect(folder, clock=FakeClock(DAY + D(hours=2)), **MANUAL) as db:
        s = db.stream("m")
        # the history is read once, by the monitors' catch-up, at the resolutions the
        # triggers need; no monitor replays it again
        assert replays == [-1]
        assert resolutions(s) == {"mx": 100 * MS, "n": 10 * MS}
        check_ranges(s, first, "mx", 100 * MS, seed=9)
        check_ranges(s, first, "n", 10 * MS, seed=10)
        assert s.get_alerts() == before
        more = timed_rows(6, 1_500 * MS, 3_000 * MS, 500)
        append_shuffled(s, more, seed=7)
        everything = first + more
        fast = expected_alerts(everything, 100 * MS, "fast", "mx > 95", hot(95))
        fastest = expected_alerts(everything, 10 * MS, "fastest", "n >= 3", busy(3))
        assert s.get_alerts(None, None, "fast") == fast
        assert s.get_alerts(None, None, "fastest") == fastest


def test_batches_that_queued_up_are_judged_together_as_one_by_one(
    db: rillet.Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined: list[int] = []
    original = MonitorSet.observe_many

    def counted(self: MonitorSet, batches: list[pa.RecordBatch]) -> None:
        joined.append(len(batches))
        original(self, batches)

    monkeypatch.setattr(MonitorSet, "observe_many", counted)
    s = db.create_stream("m", f"{SCHEMA}, note STRING", time_column="ts")
    s.add_filter("odd", "host = 'b'")
    s.add_aggregate("mx", None, "MAX(v)")
    s.add_aggregate("ob", "odd", "COUNT(*)")
    s.install_trigger("hot", "mx > 10", period="10s")
    s.install_trigger("many", "ob > 1", period="1s")
    batches: list[list[tuple[float, str, float]]] = [
        [(1, "a", 20.0)],
        [(12, "b", 1.0), (12.5, "b", 2.0)],
        [(25, "a", 30.0)],
        [(31, "b", 5.0)],
        [(40, "a", 0.0)],
    ]
    subscription = s.monitors._subscription
    assert subscription is not None
    with s.monitors._lock:  # the monitors are busy: the batches after the first queue up
        for number, batch in enumerate(batches):
            s.append_many([(DAY + D(seconds=t), h, v, "x" * number) for t, h, v in batch])
            if number == 0:
                assert wait_until(lambda: subscription._queue.empty())
    s.flush()
    assert joined == [4]  # the first alone, the four queued behind it together
    # in the order their windows closed, whichever trigger judged them
    assert s.get_alerts() == [
        alert(0, 20.0),
        alert(12, 2, "many", "ob > 1", "ob"),
        alert(20, 30.0),
    ]
    assert s.query_filter("odd", None, None).offsets.tolist() == [1, 2, 4]
    assert s.get_aggregate("mx", DAY + D(seconds=10), DAY + D(seconds=40)) == 30.0
    # a column no monitor read was left out of the joined batch, not out of the stream
    assert [r["note"] for r in s.read(5, 1)] == ["xxxx"]


def test_a_late_record_queued_behind_the_batch_that_closed_its_window_is_not_judged(
    db: rillet.Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined: list[int] = []
    original = MonitorSet._observe

    def counted(self: MonitorSet, batches: list[pa.RecordBatch], history: bool) -> None:
        joined.append(len(batches))
        original(self, batches, history)

    monkeypatch.setattr(MonitorSet, "_observe", counted)
    s = stream(db)
    subscription = s.monitors._subscription
    assert subscription is not None
    with s.monitors._lock:
        s.append_many(rows((1, 20.0)))
        assert wait_until(lambda: subscription._queue.empty())
        s.append_many(rows((12, 1.0)))  # closes [0 s, 10 s): max 20
        s.append_many(rows((5, 100.0)))  # late for it: one at a time, its alert has gone out
    s.flush()
    assert joined == [1, 1, 1]
    assert s.get_alerts() == [alert(0, 20.0)]
    assert s.get_aggregate("mx", DAY, DAY + D(seconds=10)) == 100.0
