"""The Kairos API on every back end: each type x intervals with and without resolution x
Gregorian steps x transforms x joins x expiry, against the plain-Python model of
tests/timeseries/reference.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.timeseries.reference import EMPTY, bucket, bucket_end, kept, transformed, when

TYPES = ["series", "histogram", "count", "gauge", "set"]
T = when("2024-05-01T10:00:00")
# (name, timestamp, value): two names, three minutes, two hours, repeats for histogram and set
INSERTS = [
    ("a", T + 5, 1.0),
    ("a", T + 10, 2.0),
    ("b", T + 10, 3.0),
    ("a", T + 15, 2.0),
    ("a", T + 70, 2.5),
    ("b", T + 130, 4.0),
    ("a", T + 3600 + 5, 4.0),
    ("a", T + 3600 + 65, 8.0),
]
MINUTE = {"step": 60}
HOURLY = {"step": "1h", "resolution": 60}
Make = Callable[..., Any]


def make(make_timeseries: Make, kind: str, **intervals: Any) -> Any:
    t = make_timeseries(type=kind, intervals=intervals, read_func=float)
    # half one by one, half in one bulk insert, in the same order
    for name, stamp, value in INSERTS[:3]:
        t.insert(name, value, timestamp=stamp)
    bulk: dict[float, dict[str, list[float]]] = {}
    for name, stamp, value in INSERTS[3:]:
        bulk.setdefault(stamp, {}).setdefault(name, []).append(value)
    t.bulk_insert(bulk)
    return t


def values_in(names: list[str], start: int, end: int) -> dict[str, list[float]]:
    return {n: [v for name, s, v in INSERTS if name == n and start <= s < end] for n in names}


def expect(kind: str, names: list[str], start: int, end: int, joined: bool = False) -> Any:
    """The data of one bucket [start, end) by the model: one name, or names joined."""
    held = values_in(names, start, end)
    if not joined:
        values = held[names[0]]
        return kept(kind, values) if values else EMPTY[kind]
    rows = [kept(kind, held[n]) if held[n] else None for n in names]
    present = [r for r in rows if r is not None]
    if kind == "series":
        return [v for r in present for v in r]
    if kind == "histogram":
        out: dict[float, int] = {}
        for r in present:
            for v, c in r.items():
                out[v] = out.get(v, 0) + c
        return out
    if kind == "count":
        return sum(present, 0)
    if kind == "gauge":
        return present[-1] if present else None
    return set().union(*present)


def fine(kind: str, names: list[str], start: int, end: int, joined: bool = False) -> Any:
    """{resolution start: data} of the minutes holding data in [start, end)."""
    minutes = sorted({bucket(s, 60) for n, s, _ in INSERTS if n in names and start <= s < end})
    return {m: expect(kind, names, m, m + 60, joined) for m in minutes}


@pytest.mark.parametrize("kind", TYPES)
def test_get_and_series_without_resolution(make_timeseries: Make, kind: str) -> None:
    t = make(make_timeseries, kind, minute=MINUTE)
    m0 = bucket(T, 60)
    assert t.get("a", "minute", timestamp=T + 30) == {m0: expect(kind, ["a"], m0, m0 + 60)}
    assert t.get("a", "minute", timestamp=T - 30) == {m0 - 60: EMPTY[kind]}
    got = t.series("a", "minute", start=T, end=T + 3600 + 120)
    minutes = range(m0, m0 + 3600 + 121, 60)
    assert list(got) == list(minutes)
    assert got == {m: expect(kind, ["a"], m, m + 60) for m in minutes}
    # steps from start, steps up to end
    assert list(t.series("a", "minute", start=T, steps=3)) == [m0, m0 + 60, m0 + 120]
    assert list(t.series("a", "minute", end=T + 130, steps=2)) == [m0 + 60, m0 + 120]


@pytest.mark.parametrize("kind", TYPES)
def test_get_and_series_with_resolution(make_timeseries: Make, kind: str) -> None:
    t = make(make_timeseries, kind, hour=HOURLY)
    h0 = bucket(T, 3600)
    assert t.get("a", "hour", timestamp=T) == fine(kind, ["a"], h0, h0 + 3600)
    assert t.get("a", "hour", timestamp=T, condense=True) == {
        h0: expect(kind, ["a"], h0, h0 + 3600)
    }
    # an empty interval: nothing, or its empty condensed data (never IndexError)
    assert t.get("a", "hour", timestamp=T - 3600) == {}
    assert t.get("a", "hour", timestamp=T - 3600, condense=True) == {h0 - 3600: EMPTY[kind]}
    got = t.series("a", "hour", start=T - 3600, end=T + 3600)
    assert list(got) == [h0 - 3600, h0, h0 + 3600]  # the empty interval is kept
    assert got == {h: fine(kind, ["a"], h, h + 3600) for h in (h0 - 3600, h0, h0 + 3600)}
    condensed = t.series("a", "hour", start=T - 3600, end=T + 3600, condense=True)
    assert condensed == {h: expect(kind, ["a"], h, h + 3600) for h in (h0 - 3600, h0, h0 + 3600)}
    collapsed = t.series("a", "hour", start=T - 3600, end=T + 3600, collapse=True)
    assert collapsed == {h0 - 3600: expect(kind, ["a"], h0 - 3600, h0 + 7200)}


@pytest.mark.parametrize("kind", TYPES)
def test_joined_names(make_timeseries: Make, kind: str) -> None:
    t = make(make_timeseries, kind, minute=MINUTE, hour=HOURLY)
    m0, h0 = bucket(T, 60), bucket(T, 3600)
    names = ["a", "b"]
    got = t.series(names, "minute", start=T, end=T + 180)
    assert got == {m: expect(kind, names, m, m + 60, joined=True) for m in range(m0, m0 + 181, 60)}
    assert t.get(names, "hour", timestamp=T) == fine(kind, names, h0, h0 + 3600, joined=True)
    nested = t.series(names, "hour", start=T, end=T + 3600)
    assert nested == {h: fine(kind, names, h, h + 3600, joined=True) for h in (h0, h0 + 3600)}
    # a custom join: how many names held data in each bucket
    counted = t.series(names, "minute", start=T, end=T + 180, join_rows=lambda rows: len(rows))
    assert set(counted.values()) == {2}


def test_gauge_without_data_reads_0_alone_and_none_in_a_join(make_timeseries: Make) -> None:
    t = make_timeseries(type="gauge", intervals={"minute": MINUTE})
    t.insert("a", 5.0, timestamp=T)
    m0 = bucket(T, 60)
    assert t.get("b", "minute", timestamp=T) == {m0: 0}
    assert t.series(["b", "c"], "minute", start=T, steps=1) == {m0: None}
    assert t.series(["a", "b"], "minute", start=T, steps=1) == {m0: 5.0}


def test_a_collapsed_gauge_is_the_last_value_written_in_the_range(make_timeseries: Make) -> None:
    """Empty buckets read 0 alone, but a collapse skips them: the range's last write wins."""
    t = make_timeseries(
        type="gauge", intervals={"minute": MINUTE, "hour": {"step": "1h", "resolution": 60}}
    )
    h0 = bucket(T, 3600)
    t.insert("a", 5.0, timestamp=h0 + 70)
    t.insert("a", 7.0, timestamp=h0 + 130)
    t.insert("a", 0.0, timestamp=h0 + 3600 + 10)
    t.insert("b", 9.0, timestamp=h0 + 100)
    t.insert("b", 4.0, timestamp=h0 + 190)
    minutes = t.series("a", "minute", start=h0, steps=5)
    assert minutes == {h0: 0, h0 + 60: 5.0, h0 + 120: 7.0, h0 + 180: 0, h0 + 240: 0}
    assert t.series("a", "minute", start=h0, steps=5, collapse=True) == {h0: 7.0}
    assert t.series("a", "minute", start=h0 + 180, steps=2, collapse=True) == {h0 + 180: 0}
    assert t.series(["a", "b"], "minute", start=h0, steps=5, collapse=True) == {h0: 4.0}
    assert t.series("a", "hour", start=h0, steps=3, collapse=True) == {h0: 0.0}
    assert t.series("a", "hour", start=h0 - 3600, steps=2, collapse=True) == {h0 - 3600: 7.0}
    assert t.series("b", "hour", start=h0, steps=3, collapse=True, transform="rate") == {
        h0: 4.0 / (3 * 3600)
    }


def test_counts_keep_floats(make_timeseries: Make) -> None:
    t = make_timeseries(type="count", intervals={"minute": MINUTE})
    t.insert("a", 1.5, timestamp=T)
    t.insert("a", 1.25, timestamp=T)
    t.insert("a", timestamp=T)  # 1 by default
    t.bulk_insert({T: {"a": [0.125, -0.5]}})
    assert t.get("a", "minute", timestamp=T) == {bucket(T, 60): 3.375}


@pytest.mark.parametrize("kind", ["series", "histogram", "set"])
@pytest.mark.parametrize(
    "name", ["mean", "count", "min", "max", "sum", "rate", "p50", "p90", "p0", "p100"]
)
def test_transforms(make_timeseries: Make, kind: str, name: str) -> None:
    t = make(make_timeseries, kind, minute=MINUTE, hour=HOURLY)
    m0, h0 = bucket(T, 60), bucket(T, 3600)
    got = t.series("a", "minute", start=T, steps=3, transform=name)
    expected = {
        m: transformed(kind, expect(kind, ["a"], m, m + 60), name, 60)
        for m in (m0, m0 + 60, m0 + 120)
    }
    assert got == expected
    # resolution: each minute's data; condensed: the hour's, at the hour's step
    nested = t.get("a", "hour", timestamp=T, transform=name)
    assert nested == {
        m: transformed(kind, d, name, 60) for m, d in fine(kind, ["a"], h0, h0 + 3600).items()
    }
    condensed = t.get("a", "hour", timestamp=T, transform=name, condense=True)
    assert condensed == {h0: transformed(kind, expect(kind, ["a"], h0, h0 + 3600), name, 3600)}


@pytest.mark.parametrize("kind", ["count", "gauge"])
def test_transforms_of_one_number(make_timeseries: Make, kind: str) -> None:
    t = make(make_timeseries, kind, minute=MINUTE)
    m0 = bucket(T, 60)
    data = expect(kind, ["a"], m0, m0 + 60)
    got = t.get("a", "minute", timestamp=T, transform=["rate", "max", "p50"])
    assert got == {m0: {"rate": data / 60, "max": data, "p50": data}}


def test_transform_lists_dicts_and_callables(make_timeseries: Make) -> None:
    t = make(make_timeseries, "series", minute=MINUTE)
    m0 = bucket(T, 60)
    data = expect("series", ["a"], m0, m0 + 60)  # [1.0, 2.0, 2.0]

    def spread(values: list[float]) -> float:
        return max(values) - min(values)

    def per_second(values: list[float], step_size: float) -> float:
        return sum(values) / step_size

    got = t.get("a", "minute", timestamp=T, transform=["mean", spread, per_second, len])
    assert got == {m0: {"mean": 5 / 3, spread: 1.0, per_second: 5 / 60, len: 3}}
    named = t.get("a", "minute", timestamp=T, transform={"m": "max", "s": sum, "n": "count"})
    assert named == {m0: {"m": 2.0, "s": 5.0, "n": 3}}
    assert t.get("a", "minute", timestamp=T, transform=lambda d, s: (len(d), s)) == {m0: (3, 60.0)}
    assert data == [1.0, 2.0, 2.0]


def test_condense_and_collapse_callables(make_timeseries: Make) -> None:
    t = make(make_timeseries, "count", hour=HOURLY)
    h0 = bucket(T, 3600)

    def biggest(rows: dict[int, float]) -> float:
        return max(rows.values(), default=0)

    got = t.series("a", "hour", start=T, end=T + 3600, condense=biggest)
    assert got == {h0: 5.0, h0 + 3600: 8.0}  # the biggest minute: 1+2+2 (then 2.5); 4, 8
    assert t.series("a", "hour", start=T, end=T + 3600, condense=biggest, collapse=True) == {
        h0: 8.0
    }
    assert t.series("a", "hour", start=T, end=T + 3600, collapse=lambda rows: len(rows)) == {h0: 2}


GREGORIAN_TIMES = [
    "2023-12-30T23:59:59",  # Saturday: week 52 of 2023 (Sunday 24th to Saturday 30th)
    "2023-12-31T12:00:00",  # Sunday: week 53 of 2023, a one-day week
    "2024-01-01T00:00:00",  # Monday: week 00 of 2024, Monday 1st to Saturday 6th
    "2024-01-06T23:00:00",
    "2024-01-07T00:00:00",  # Sunday: week 01 of 2024
    "2024-02-29T08:00:00",
    "2024-03-01T00:30:00",
]


@pytest.mark.parametrize("step", ["daily", "weekly", "monthly", "yearly"])
@pytest.mark.parametrize("resolution", [None, "daily"])
def test_gregorian_steps(make_timeseries: Make, step: str, resolution: str | None) -> None:
    config: dict[str, Any] = {"step": step}
    if resolution is not None:
        config["resolution"] = resolution
    t = make_timeseries(type="count", intervals={"g": config})
    stamps = [when(s) for s in GREGORIAN_TIMES]
    t.bulk_insert({s: {"x": [float(k + 1)]} for k, s in enumerate(stamps)})
    first, last = bucket(stamps[0], step), bucket(stamps[-1], step)
    starts = [first]
    while starts[-1] < last:
        starts.append(bucket_end(starts[-1], step))

    def total(low: int, high: int) -> float:
        return sum(float(k + 1) for k, s in enumerate(stamps) if low <= s < high)

    got = t.series("x", "g", start=stamps[0], end=stamps[-1], condense=True)
    assert list(got) == starts
    assert got == {s: total(s, bucket_end(s, step)) or 0 for s in starts}
    for s in stamps:  # every bucket's key is a time inside the bucket (its start)
        key = bucket(s, step)
        assert list(t.get("x", "g", timestamp=s, condense=True)) == [key]
    if resolution is not None:
        days = t.get("x", "g", timestamp=stamps[2])
        start = bucket(stamps[2], step)
        end = bucket_end(start, step)
        assert days == {
            bucket(s, 86400): total(bucket(s, 86400), bucket(s, 86400) + 86400)
            for s in stamps
            if start <= s < end
        }
    # rate divides by the bucket's own length (a week may be short)
    rated = t.get("x", "g", timestamp=stamps[1], condense=True, transform="rate")
    key = bucket(stamps[1], step)
    assert rated == {key: total(key, bucket_end(key, step)) / (bucket_end(key, step) - key)}


@pytest.mark.parametrize("kind", TYPES)
def test_expiry_by_steps(make_timeseries: Make, kind: str) -> None:
    day = 86400
    t = make_timeseries(type=kind, intervals={"day": {"step": day, "steps": 2}}, read_func=float)
    now = time.time()
    today = bucket(now, day)
    for ago in (0, 1, 2, 5):
        t.insert("a", float(ago + 1), timestamp=now - ago * day)
    t.insert("old", 9.0, timestamp=now - 3 * day)
    if bucket(time.time(), day) != today:
        pytest.skip("the UTC day changed while the test ran")
    full = t.series("a", "day", start=now - 5 * day, end=now)
    assert list(full) == [today - k * day for k in range(5, -1, -1)]
    live = {today - day: kept(kind, [2.0]), today: kept(kind, [1.0])}
    assert full == {k: live.get(k, EMPTY[kind]) for k in full}
    assert t.series("a", "day") == live  # steps defaults to the interval's
    assert t.get("a", "day", timestamp=now - 2 * day) == {today - 2 * day: EMPTY[kind]}
    assert t.list() == ["a"]
    assert t.properties("a") == {"day": {"first": today - day, "last": today}}
    assert t.properties("old") == {"day": {}}
    t.expire("a")
    t.expire("old")
    assert t.series("a", "day") == live
    assert t.list() == ["a"]


def test_insert_into_intervals_before_and_after(make_timeseries: Make) -> None:
    t = make_timeseries(type="count", intervals={"minute": MINUTE, "hour": HOURLY})
    t.insert("a", 1.0, timestamp=T + 30, intervals=2)
    t.insert("a", 10.0, timestamp=T + 30, intervals=-1)
    m0, h0 = bucket(T, 60), bucket(T, 3600)
    assert t.series("a", "minute", start=T - 60, steps=4) == {
        m0 - 60: 10.0,
        m0: 11.0,
        m0 + 60: 1.0,
        m0 + 120: 1.0,
    }
    # the copies land at their intervals' starts: the resolution is lost for them
    assert t.series("a", "hour", start=T - 3600, steps=4) == {
        h0 - 3600: {h0 - 3600: 10.0},
        h0: {m0: 11.0},
        h0 + 3600: {h0 + 3600: 1.0},
        h0 + 7200: {h0 + 7200: 1.0},
    }


def test_list_properties_iterate_delete(make_timeseries: Make) -> None:
    t = make(make_timeseries, "count", minute=MINUTE, hour=HOURLY)
    other = make_timeseries(type="count", intervals={"minute": MINUTE})
    other.insert("z", 1.0, timestamp=T)
    m0, h0 = bucket(T, 60), bucket(T, 3600)
    assert t.list() == ["a", "b"]
    assert other.list() == ["z"]
    assert t.properties("a") == {
        "minute": {"first": m0, "last": bucket(T + 3665, 60)},
        "hour": {"first": h0, "last": h0 + 3600},
    }
    walked = list(t.iterate("a", "minute"))
    assert [k for k, _ in walked] == list(range(m0, bucket(T + 3665, 60) + 1, 60))
    assert dict(walked) == {k: expect("count", ["a"], k, k + 60) for k, _ in walked}
    nested = list(t.iterate("a", "hour"))
    assert nested == [*fine("count", ["a"], h0, h0 + 7200).items()]
    t.delete("a")
    assert t.list() == ["b"]
    assert t.get("a", "minute", timestamp=T) == {m0: 0}
    assert t.properties("a") == {"minute": {}, "hour": {}}
    assert list(t.iterate("a", "minute")) == []
    t.delete_all()
    assert t.list() == []
    assert other.list() == ["z"]


def test_read_and_write_funcs(make_timeseries: Make) -> None:
    t = make_timeseries(
        type="histogram",
        intervals={"minute": MINUTE},
        write_func=lambda v: round(v),
        read_func=lambda v: int(float(v)),
    )
    t.insert("a", [1.2, 0.8, 2.6], timestamp=T)
    assert t.get("a", "minute", timestamp=T) == {bucket(T, 60): {1: 2, 3: 1}}


def test_arrow_and_pandas_output(make_timeseries: Make) -> None:
    t = make(make_timeseries, "series", minute=MINUTE, hour=HOURLY)
    m0 = bucket(T, 60)
    table = t.series("a", "minute", start=T, steps=3, transform=["sum", "count"], format="arrow")
    assert table.column_names == ["interval", "sum", "count"]
    assert [int(x.timestamp()) for x in table.column("interval").to_pylist()] == [
        m0,
        m0 + 60,
        m0 + 120,
    ]
    assert table.column("sum").to_pylist() == [5.0, 2.5, 0]
    frame = t.series("a", "hour", start=T, steps=1, transform="max", format="pandas")
    assert list(frame.columns) == ["interval", "resolution", "value"]
    assert frame["value"].tolist() == [2.0, 2.5]


def test_arrow_output_of_every_type(make_timeseries: Make) -> None:
    m0 = bucket(T, 60)
    for kind in TYPES:
        t = make(make_timeseries, kind, minute=MINUTE)
        table = t.series("a", "minute", start=T, steps=2, format="arrow")
        got = table.column("value").to_pylist()
        expected = [expect(kind, ["a"], m, m + 60) for m in (m0, m0 + 60)]
        if kind == "histogram":
            got = [dict(pairs) for pairs in got]
        if kind == "set":
            expected = [sorted(e) for e in expected]
        assert got == expected


def test_gregorian_keys_ignore_the_local_zone(
    make_timeseries: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buckets are UTC whatever TZ says (the original's keys moved with the local zone)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        t = make_timeseries(
            type="count", intervals={"d": {"step": "daily"}, "w": {"step": "weekly"}}
        )
        stamp = when("2024-01-07T02:00:00")  # Saturday 21:00 in New York, Sunday in UTC
        t.insert("a", 1.0, timestamp=stamp)
        assert t.get("a", "d", timestamp=stamp) == {when("2024-01-07T00:00:00"): 1.0}
        assert t.get("a", "w", timestamp=stamp) == {when("2024-01-07T00:00:00"): 1.0}
        assert t.properties("a")["w"] == {
            "first": int(when("2024-01-07")),
            "last": int(when("2024-01-07")),
        }
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_custom_process_row_sees_every_bucket(make_timeseries: Make) -> None:
    t = make(make_timeseries, "series", minute=MINUTE, hour=HOURLY)
    m0, h0 = bucket(T, 60), bucket(T, 3600)
    got = t.series("a", "minute", start=T, steps=3, process_row=lambda row: len(row))
    assert got == {m0: 3, m0 + 60: 1, m0 + 120: 0}  # the empty minute too, as Kairos
    assert t.get("a", "hour", timestamp=T, process_row=lambda row: sum(map(float, row))) == {
        m0: 5.0,
        m0 + 60: 2.5,
    }
    # rows no longer the type's: the join is the caller's too (as in Kairos)
    joined = t.series(["a", "b"], "minute", start=T, steps=3, process_row=len, join_rows=sum)
    assert joined == {m0: 4, m0 + 60: 1, m0 + 120: 1}
    assert h0 == m0
