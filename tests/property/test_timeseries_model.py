"""Kairos reads after random writes, against the plain-Python model (tests/timeseries/
reference.py): any values, split into any mix of ``insert`` and ``bulk_insert`` calls, read
back by ``series`` as the model keeps them, for every type and for intervals with and
without resolution, fixed and Gregorian (on the rillet back end, in memory; the conformance
suite runs the other back ends)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.timeseries import Timeseries
from tests.timeseries.reference import EMPTY, bucket, bucket_end, kept, when

T0 = when("2023-12-24T00:00:00")  # a Sunday: three weeks across a new year
SPAN = 21 * 86400
INTERVALS: dict[str, dict[str, Any]] = {
    "minute": {"step": 60},
    "hour": {"step": 3600, "resolution": 60},
    "day": {"step": "daily", "resolution": "1h"},
    "week": {"step": "weekly", "resolution": "daily"},
    "month": {"step": "monthly"},
}
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.one_of(st.integers(0, 600), st.integers(0, SPAN - 1)),  # close together, or not
        st.integers(-3, 6).map(float),
    ),
    min_size=1,
    max_size=40,
)


def step_of(config: dict[str, Any]) -> int | str:
    step = config["step"]
    return 86400 if step == "daily" else step


def resolution_of(config: dict[str, Any]) -> int | str | None:
    raw = config.get("resolution")
    return {None: None, "1h": 3600, "daily": "daily"}.get(raw, raw)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["series", "histogram", "count", "gauge", "set"]),
    st.sampled_from(sorted(INTERVALS)),
    EVENTS,
    st.lists(st.booleans(), min_size=1, max_size=6),
)
def test_reads_are_the_models(kind: str, interval: str, events: Any, bulks: list[bool]) -> None:
    config = INTERVALS[interval]
    written: list[tuple[str, float, float]] = []  # in the order the writes apply them
    with Timeseries("rillet://", type=kind, intervals={interval: config}) as t:
        size = -(-len(events) // len(bulks))
        for number, bulk in enumerate(bulks):
            chunk = events[number * size : (number + 1) * size]
            if bulk:
                by_stamp: dict[float, dict[str, list[float]]] = {}
                for name, offset, value in chunk:
                    by_stamp.setdefault(T0 + offset, {}).setdefault(name, []).append(value)
                t.bulk_insert(by_stamp)
                written += [
                    (n, s, v)
                    for s, names in by_stamp.items()
                    for n, vs in names.items()
                    for v in vs
                ]
            else:
                for name, offset, value in chunk:
                    t.insert(name, value, timestamp=T0 + offset)
                    written.append((name, T0 + offset, value))
        step, resolution = step_of(config), resolution_of(config)
        stamps = [s for _, s, _ in written]
        for name in ("a", "b"):
            got = t.series(name, interval, start=min(stamps), end=max(stamps))
            expected = {}
            start = bucket(min(stamps), step)
            while start <= bucket(max(stamps), step):
                end = bucket_end(start, step)
                held = [(s, v) for n, s, v in written if n == name and start <= s < end]
                if resolution is None:
                    expected[start] = kept(kind, [v for _, v in held]) if held else EMPTY[kind]
                else:
                    fine: dict[int, list[float]] = {}
                    for s, v in held:
                        fine.setdefault(bucket(s, resolution), []).append(v)
                    expected[start] = {r: kept(kind, fine[r]) for r in sorted(fine)}
                start = end
            assert got == expected
            # collapse: the whole range as one bucket (a gauge: the last value of its latest
            # bucket holding data, however many empty buckets follow)
            finest = resolution or step
            ordered = sorted(
                (bucket(s, finest), at, v) for at, (n, s, v) in enumerate(written) if n == name
            )
            values = [v for _, _, v in ordered]
            collapsed = t.series(name, interval, start=min(stamps), end=max(stamps), collapse=True)
            assert collapsed == {
                bucket(min(stamps), step): kept(kind, values) if values else EMPTY[kind]
            }
