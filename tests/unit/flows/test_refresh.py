"""REFRESH STREAM name [SINCE time]: the windows ending after the point are recomputed from
the stored input (late records counted), those before keep their rows, the readers follow;
expected rows are computed here in plain Python over the same records."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rillet
from rillet.errors import ConflictError
from tests.unit.flows.test_named_flows import BASE, HOURLY, MINUTELY, events_at
from tests.unit.support import MANUAL, wait_until

BASE_US = int(BASE.timestamp()) * 1_000_000
STEP = 7_000_000  # a record every 7 s
MINUTE = 60_000_000
HOUR = 60 * MINUTE
Rows = dict[tuple[int, str], tuple[int, float]]


def _ts(i: int) -> int:
    return BASE_US + i * STEP


def _records(indices: Iterable[int]) -> pa.Table:
    return events_at(indices, STEP // 1_000_000)


def _minutes(indices: Iterable[int], newest: int) -> Rows:
    """The 1-minute windows (start, host) -> (count, sum) closed once ``newest`` is seen."""
    sums: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for i in indices:
        cell = sums[(_ts(i) // MINUTE * MINUTE, f"h{i % 3}")]
        cell[0] += 1
        cell[1] += float(i % 11)
    return {k: (int(c), t) for k, (c, t) in sums.items() if k[0] + MINUTE <= newest}


def _hours(minutes: Rows) -> Rows:
    """The hourly roll-up over 1-minute rows (by window_start), closed hours only."""
    newest = max(start for start, _ in minutes)
    sums: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for (start, host), (n, total) in minutes.items():
        cell = sums[(start // HOUR * HOUR, host)]
        cell[0] += n
        cell[1] += total
    return {k: (int(c), t) for k, (c, t) in sums.items() if k[0] + HOUR <= newest}


def _before(rows: Rows, size: int, point: int) -> Rows:
    return {k: v for k, v in rows.items() if k[0] + size <= point}


def _after(rows: Rows, size: int, point: int) -> Rows:
    return {k: v for k, v in rows.items() if k[0] + size > point}


def _stored(db: rillet.Database, name: str, size: int) -> Rows:
    """A roll-up's stored rows by (window start, host); no window twice."""
    query = f"SELECT timestamp, host, n, total FROM {name}"
    rows = db.sql(query).fetchall()
    found = {(int(end.timestamp()) * 1_000_000 - size, host): (n, t) for end, host, n, t in rows}
    assert len(found) == len(rows), f"{name} holds a window twice"
    return found


def _late(db: rillet.Database) -> list[int]:
    """The indices of the records kept in m.late."""
    if "m.late" not in {s.name for s in db.streams()}:
        return []
    rows = db.sql('SELECT ts FROM "m.late"').fetchall()
    return sorted((int(r[0].timestamp()) * 1_000_000 - BASE_US) // STEP for r in rows)


def _settled(db: rillet.Database, minutes: Rows, hours: Rows | None = None) -> bool:
    return len(db.stream("m")) == len(minutes) and (
        hours is None or len(db.stream("h")) == len(hours)
    )


def _ev(db: rillet.Database, retention: str | None = None) -> rillet.Stream:
    return db.create_stream(
        "ev",
        "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE",
        time_column="ts",
        partition="1h",
        retention=retention,
    )


TOTAL = 3000  # 5 h 50 min of records
LATE = [*range(0, 100), *range(1600, 1650)]  # minutes 0-11 and 3:06-3:12, appended last
ON_TIME = [i for i in range(TOTAL) if i not in set(LATE)]


def test_since_keeps_the_earlier_rows_and_recomputes_the_later_ones(tmp_path: Path) -> None:
    point = 2 * HOUR + 30 * MINUTE  # SINCE 02:30: minutes ending after it, hours after 02:00
    with rillet.connect(tmp_path) as db:
        stream = _ev(db)
        db.execute(MINUTELY)
        db.execute(HOURLY)
        stream.append_many(_records(ON_TIME))
        stream.append_many(_records(LATE))  # every one late: its minute is out
        newest = _ts(TOTAL - 1)
        old_m = _minutes(ON_TIME, newest)
        old_h = _hours(old_m)
        assert wait_until(lambda: _settled(db, old_m, old_h) and len(_late(db)) == len(LATE), 20)
        assert _stored(db, "m", MINUTE) == old_m and _stored(db, "h", HOUR) == old_h

        db.execute("REFRESH STREAM m SINCE '2026-01-01 02:30:00'")
        every = _minutes(range(TOTAL), newest)
        new_m = {
            **_before(old_m, MINUTE, BASE_US + point),
            **_after(every, MINUTE, BASE_US + point),
        }
        hour_point = BASE_US + 2 * HOUR  # the hour holding 02:30 is recomputed whole
        new_h = {**_before(old_h, HOUR, hour_point), **_after(_hours(new_m), HOUR, hour_point)}
        assert wait_until(lambda: _settled(db, new_m, new_h), 20)
        assert _stored(db, "m", MINUTE) == new_m
        assert _stored(db, "h", HOUR) == new_h
        assert new_m != old_m and new_h != old_h and new_m != every  # both parts matter
        assert _late(db) == list(range(0, 100))  # before the point: still late, kept
    with rillet.connect(tmp_path) as db:  # reopened: the same rows, then live, no gap
        assert wait_until(lambda: _settled(db, new_m, new_h), 20)
        assert _stored(db, "m", MINUTE) == new_m and _stored(db, "h", HOUR) == new_h
        db.stream("ev").append_many(_records(range(TOTAL, TOTAL + 200)))
        newest = _ts(TOTAL + 199)
        live_m = {**new_m, **_after(_minutes(range(TOTAL + 200), newest), MINUTE, BASE_US + point)}
        live_h = {**_before(old_h, HOUR, hour_point), **_after(_hours(live_m), HOUR, hour_point)}
        assert wait_until(lambda: _settled(db, live_m, live_h), 20)
        assert _stored(db, "m", MINUTE) == live_m and _stored(db, "h", HOUR) == live_h
        assert _late(db) == list(range(0, 100))

        db.execute("REFRESH STREAM m")  # from the oldest late record: 00:00, everything
        every = _minutes(range(TOTAL + 200), newest)
        assert wait_until(lambda: _settled(db, every, _hours(every)), 20)
        assert _stored(db, "m", MINUTE) == every and _stored(db, "h", HOUR) == _hours(every)
        assert _late(db) == []
        before = db.stream("m").next_offset
        db.execute("REFRESH STREAM m")  # nothing late: nothing to recompute, nothing changes
        assert db.stream("m").next_offset == before and _stored(db, "m", MINUTE) == every


def test_retention_of_the_input_keeps_the_rows_it_cannot_recompute(tmp_path: Path) -> None:
    total = 6 * 3600 // 7
    late = list(range(2700, 2750))  # 05:15-05:20, appended last
    on_time = [i for i in range(total) if i not in set(late)]
    with rillet.connect(tmp_path, **MANUAL) as db:
        stream = _ev(db, retention="2h")
        stream.append_many(_records(on_time))
        db.execute(MINUTELY)
        stream.append_many(_records(late))
        newest = _ts(total - 1)
        old_m = _minutes(on_time, newest)
        assert wait_until(lambda: _settled(db, old_m) and len(_late(db)) == len(late), 20)
        assert stream.apply_retention()  # the oldest hours of ev go
        oldest = db.sql("SELECT min(ts) FROM ev").fetchall()[0][0]
        cut = int(oldest.timestamp()) * 1_000_000 // HOUR * HOUR  # its partition's start
        assert cut > BASE_US

        db.execute("REFRESH STREAM m SINCE '2026-01-01'")  # raised to the cut
        new_m = {
            **_before(old_m, MINUTE, cut),
            **_after(_minutes(range(total), newest), MINUTE, cut),
        }
        assert wait_until(lambda: _settled(db, new_m), 20)
        assert _stored(db, "m", MINUTE) == new_m  # nothing lost before the cut
        assert len(new_m) == len(old_m) + len(_minutes(late, newest).keys() - old_m.keys())
        assert _late(db) == []
    with rillet.connect(tmp_path, **MANUAL) as db:
        assert wait_until(lambda: _settled(db, new_m), 20)
        assert _stored(db, "m", MINUTE) == new_m


def test_a_flow_recomputed_whole_is_refused_when_retention_cut_its_input(tmp_path: Path) -> None:
    with rillet.connect(tmp_path, **MANUAL) as db:
        stream = _ev(db, retention="2h")
        stream.append_many(_records(range(6 * 3600 // 7)))
        db.execute(
            "CREATE STREAM s AS SELECT host, count(*) AS n FROM ev "
            "GROUP BY host, SESSION(ts, INTERVAL '10' SECOND)"
        )
        assert wait_until(lambda: len(db.stream("s")) > 0, 20)
        assert stream.apply_retention()
        before = len(db.stream("s"))
        with pytest.raises(ConflictError, match="'ev' keeps records from"):
            db.execute("REFRESH STREAM s SINCE '2026-01-01'")
        assert len(db.stream("s")) == before and "s" in db._named.flows()


def _hops(indices: Iterable[int], newest: int, slide: int, size: int) -> Rows:
    """HOP windows (start, host) -> (count, sum) closed once ``newest`` is seen."""
    sums: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for i in indices:
        t = _ts(i)
        start = t // slide * slide
        while start > t - size:
            cell = sums[(start, f"h{i % 3}")]
            cell[0] += 1
            cell[1] += float(i % 11)
            start -= slide
    return {k: (int(c), t) for k, (c, t) in sums.items() if k[0] + size <= newest}


def test_since_recomputes_the_hop_windows_ending_after_its_point(tmp_path: Path) -> None:
    slide, size = 20_000_000, MINUTE
    late = [*range(0, 100), *range(1282, 1291)]  # 02:29:34 .. 02:30:30 around the point
    on_time = [i for i in range(TOTAL) if i not in set(late)]
    with rillet.connect(tmp_path) as db:
        stream = _ev(db)
        db.execute(
            "CREATE STREAM m AS SELECT host, window_start, count(*) AS n, sum(v) AS total "
            "FROM ev GROUP BY host, HOP(ts, INTERVAL '20' SECOND, INTERVAL '1' MINUTE)"
        )
        stream.append_many(_records(on_time))
        stream.append_many(_records(late))
        newest = _ts(TOTAL - 1)
        old = _hops(on_time, newest, slide, size)
        assert wait_until(lambda: _settled(db, old) and len(_late(db)) == len(late), 20)
        assert _stored(db, "m", size) == old
        db.execute("REFRESH STREAM m SINCE '2026-01-01 02:30:10'")
        point = BASE_US + (2 * 3600 + 30 * 60) * 1_000_000  # 02:30:10 floored to the slide
        every = _hops(range(TOTAL), newest, slide, size)
        new = {**_before(old, size, point), **_after(every, size, point)}
        assert wait_until(lambda: _settled(db, new), 20)
        assert _stored(db, "m", size) == new
        assert _late(db) == [i for i in late if _ts(i) < point]  # late in a kept window


def test_refresh_is_refused_while_a_named_flow_reads_the_late_stream(tmp_path: Path) -> None:
    with rillet.connect(tmp_path / "d", **MANUAL) as db:
        ev = _ev(db)
        db.execute(MINUTELY)
        ev.append_many(_records(ON_TIME[:500]))
        ev.append_many(_records(LATE[:20]))  # minutes 0-2: out already, late
        assert wait_until(lambda: _late(db) == LATE[:20])
        db.execute('CREATE STREAM late_hosts AS SELECT host, ts FROM "m.late"')
        before = _stored(db, "m", MINUTE)
        with pytest.raises(ConflictError, match="'m.late' is read by the named flow 'late_hosts'"):
            db.execute("REFRESH STREAM m")
        assert _stored(db, "m", MINUTE) == before  # nothing changed, the flow goes on
        ev.append_many(_records(ON_TIME[500:600]))
        assert wait_until(lambda: _settled(db, _minutes(ON_TIME[:600], _ts(ON_TIME[599]))))


def test_a_refresh_failing_before_it_changes_anything_restarts_the_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rillet.errors import StorageError
    from rillet.flows import late, named, output

    with rillet.connect(tmp_path / "d", **MANUAL) as db:
        ev = _ev(db)
        db.execute(MINUTELY)
        ev.append_many(_records(ON_TIME[:500]))
        ev.append_many(_records(LATE[:20]))
        assert wait_until(lambda: _late(db) == LATE[:20])
        rows = output.stored_rows

        def failing(stream: rillet.Stream) -> pa.Table:
            for module in (named, late):  # the first read of a stored stream fails
                monkeypatch.setattr(module, "stored_rows", rows)
            raise StorageError(f"stream {stream.name!r}: I/O error (injected)")

        for module in (named, late):
            monkeypatch.setattr(module, "stored_rows", failing)
        with pytest.raises(StorageError, match="injected"):
            db.execute("REFRESH STREAM m SINCE '2026-01-01T00:30:00Z'")
        assert [f.name for f in db.flows()] == ["m"]  # running again, as before
        ev.append_many(_records(ON_TIME[500:600]))
        live = ON_TIME[:600]
        assert wait_until(lambda: _settled(db, _minutes(live, _ts(ON_TIME[599]))))
        assert _stored(db, "m", MINUTE) == _minutes(live, _ts(ON_TIME[599]))


@pytest.mark.parametrize("chained", [False, True])
def test_refresh_returns_once_its_rows_are_in_and_covers_every_record_before_it(
    chained: bool,
) -> None:
    """A read right after REFRESH sees the recomputed windows (not an emptied roll-up), and
    a late record appended just before REFRESH (single appends wait in a buffer) is
    counted in its window, not left in m.late; the readers of the roll-up follow alike."""
    on_time = range(0, 60)  # 7 minutes
    for late in (3, 20, 41):  # each round: a record of a closed minute, then REFRESH
        with rillet.connect() as db:
            stream = _ev(db)
            db.execute(MINUTELY)
            if chained:
                db.execute(HOURLY.replace("INTERVAL '1' HOUR", "INTERVAL '2' MINUTE"))
            stream.append_many(_records(on_time))
            row = _records([late]).to_pylist()[0]
            stream.append((row["ts"], row["host"], row["v"]))  # buffered, not yet ingested
            db.execute("REFRESH STREAM m")
            every = _minutes([*on_time, late], _ts(59))
            assert _stored(db, "m", MINUTE) == every
            assert _late(db) == []
            if chained:
                pairs = db.sql("SELECT timestamp, host, n FROM h").fetchall()
                found = {(int(e.timestamp()) * 1_000_000 - 2 * MINUTE, h): n for e, h, n in pairs}
                expected: dict[tuple[int, str], int] = defaultdict(int)
                for (start, host), (n, _) in every.items():
                    expected[(start // (2 * MINUTE) * (2 * MINUTE), host)] += n
                closed = max(start for start, _ in every)  # the newest minute row's start
                assert found == {k: v for k, v in expected.items() if k[0] + 2 * MINUTE <= closed}


def test_refresh_closes_again_the_windows_an_idle_input_had_closed() -> None:
    """Windows closed by ``idle_timeout`` (no later record) are out: after REFRESH they are
    out again at once, with the late record counted, rather than open until the input is
    idle once more."""
    with rillet.connect() as db:
        stream = _ev(db)
        db.execute(MINUTELY.replace("AS SELECT", "WITH (idle_timeout = '200ms') AS SELECT"))
        on_time = [1, 10]  # 00:00:07 and 00:01:10: the second minute closes only by idling
        for i in on_time:
            stream.append_many(_records([i]))
        assert wait_until(lambda: len(db.stream("m")) == 2, 10)
        stream.append_many(_records([2]))  # 00:00:14: late, its minute out
        assert wait_until(lambda: _late(db) == [2], 10)
        db.execute("REFRESH STREAM m")
        every = _minutes([1, 2, 10], _ts(10) + MINUTE)
        assert _stored(db, "m", MINUTE) == every  # both minutes, at once
        assert _late(db) == []


@pytest.mark.parametrize(
    "source",
    ["e", "(SELECT v, t2 AS at FROM e WHERE v > 0) AS s"],
    ids=["a column", "a column renamed by a subquery"],
)
def test_refresh_replays_in_the_order_of_the_windows_own_time(source: str) -> None:
    """Windows over a TIMESTAMP column that is not the stream's time: REFRESH replays the
    history in the order of that column, so its late records count (in the order of the
    stream's time they came out late again)."""
    window = (
        "TUMBLE(t2, INTERVAL '1' MINUTE)" if source == "e" else "TUMBLE(at, INTERVAL '1' MINUTE)"
    )
    # (stream time, window time): the stream's time is in order, the window's is not
    times = [(0, 0), (1, 120), (2, 5), (3, 200), (4, 61), (5, 250), (6, 59)]
    with rillet.connect() as db:
        e = db.create_stream("e", "ts TIMESTAMP, t2 TIMESTAMP, v BIGINT", time_column="ts")
        db.execute(
            f"CREATE STREAM w AS SELECT window_start, count(*) AS n FROM {source} GROUP BY {window}"
        )
        ns = [((_ts(0) + a * 10**6) * 1000, (_ts(0) + b * 10**6) * 1000, 1) for a, b in times]
        e.append_many(ns)  # epoch nanoseconds
        # at 5, 61 and 59 s, after windows ending later closed
        late = "w.late"
        assert wait_until(
            lambda: late in {s.name for s in db.streams()} and len(db.stream(late)) == 3
        )
        db.execute("REFRESH STREAM w")
        rows = db.sql("SELECT epoch_us(window_start), n FROM w ORDER BY 1").fetchall()
        counts: dict[int, int] = defaultdict(int)
        for _, b in times:
            counts[(_ts(0) + b * 10**6) // MINUTE * MINUTE] += 1
        newest = max(_ts(0) + b * 10**6 for _, b in times)
        assert rows == sorted((s, n) for s, n in counts.items() if s + MINUTE <= newest)
        assert len(db.stream("w.late")) == 0  # kept, emptied: each late record counted


def test_a_refresh_waits_for_a_seal_of_the_stream_it_renews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seal of the roll-up's stream under way when REFRESH renews it commits first: its
    file went into the catalog entry of the renewed stream, whose old folder was then
    removed (a query, and the reopen, found the file missing)."""
    from rillet.storage.parquet import write_partition as original
    from rillet.streaming import upkeep

    writing, go = threading.Event(), threading.Event()

    def slow(*args: object, **kwargs: object) -> object:
        writing.set()
        go.wait(10)
        return original(*args, **kwargs)  # type: ignore[arg-type]  # as upkeep calls it

    with rillet.connect(tmp_path, maintenance_interval=3600) as db:
        _ev(db).append_many(_records(range(2000)))
        db.execute(MINUTELY)
        expected = _minutes(range(2000), _ts(1999))
        assert wait_until(lambda: len(db.stream("m")) == len(expected))
        monkeypatch.setattr(upkeep, "write_partition", slow)
        sealing = threading.Thread(target=db.stream("m").seal, kwargs={"everything": True})
        sealing.start()
        assert writing.wait(10)
        monkeypatch.setattr(upkeep, "write_partition", original)
        since = f"'{BASE.isoformat()}'"
        refreshing = threading.Thread(target=db.execute, args=(f"REFRESH STREAM m SINCE {since}",))
        refreshing.start()
        time.sleep(0.3)  # the refresh waits for the seal (before, it renewed the stream now)
        go.set()
        sealing.join(10)
        refreshing.join(10)
        assert wait_until(lambda: len(db.stream("m")) == len(expected))
        assert _stored(db, "m", MINUTE) == expected
    with rillet.connect(tmp_path) as db:
        assert _stored(db, "m", MINUTE) == expected


@pytest.mark.parametrize(
    "window", ["SESSION(ts, INTERVAL '10' SECOND)", "TUMBLE(ts, INTERVAL '1' MINUTE)"]
)
def test_refresh_keeps_first_and_last_of_the_records_order(window: str) -> None:
    """REFRESH replays the history by event time, yet FIRST and LAST stay the values of the
    least and greatest offset, as the live run had them."""

    def at(seconds: int, host: str, v: float) -> dict[str, list[Any]]:
        return {"ts": [BASE + dt.timedelta(seconds=seconds)], "host": [host], "v": [v]}

    with rillet.connect() as db:
        ev = _ev(db)
        db.set("rillet.window.lateness", "30s")
        db.execute(
            "CREATE STREAM s AS SELECT host, window_start, first(v) AS f, last(v) AS l, "
            f"count(*) AS n FROM ev GROUP BY host, {window}"
        )
        for record in (at(40, "a", 1), at(35, "a", 2), at(1000, "a", 3), at(5, "b", 9)):
            ev.append_many(record)  # the last is late
        query = "SELECT host, f, l, n FROM s WHERE host = 'a' ORDER BY window_start"
        assert wait_until(lambda: "s.late" in {x.name for x in db.streams()})
        live = db.sql(query).fetchall()
        assert live[0] == ("a", 1.0, 2.0, 2)
        db.execute("REFRESH STREAM s")
        assert db.sql(query).fetchall() == live
