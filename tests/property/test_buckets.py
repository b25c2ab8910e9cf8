"""Time buckets (:mod:`rillet.aggregates.buckets`) against plain-Python calendar arithmetic.

Random instants from 1890 to 2110 (so months of every length, leap years, and 1900 and 2100,
which are not leap years) are bucketed by day, ISO week, month and year, fixed widths below
them; the expected starts come from ``datetime`` (``replace(day=1)``, ``weekday()``, ...).
Random ranges are covered by :func:`~rillet.aggregates.buckets.spans` and compared with a
greedy walk that takes, at each point, the coarsest whole bucket that starts there and fits.
Events folded into levels (hours, days, months, years) and merged over those spans must sum
to what a plain loop over the events in the range sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.aggregates import aggregate
from rillet.aggregates.buckets import Buckets, Level, spans
from rillet.aggregates.grouped import kind_of
from rillet.calendar import (
    DAY_US,
    MONTH,
    WEEK,
    YEAR,
    Calendar,
    Width,
    ceil_of,
    end_of,
    floor,
    nests,
    start_of,
)
from rillet.expressions.signatures import t

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND, MINUTE, HOUR = 1_000_000, 60_000_000, 3_600_000_000
LOW = (dt.datetime(1890, 1, 1, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
HIGH = (dt.datetime(2110, 1, 1, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
instants = st.integers(LOW, HIGH)
#: level chains that nest, each from a fixed width up to calendar ones
CHAINS: list[tuple[Width, ...]] = [
    (SECOND, MINUTE, HOUR, DAY_US, MONTH, YEAR),
    (HOUR, DAY_US, WEEK),
    (15 * MINUTE, DAY_US, MONTH),
    (DAY_US, MONTH, YEAR),
    (MONTH, YEAR),
    (6 * HOUR, DAY_US, YEAR),
]
WIDTHS: list[Width] = [SECOND, 90 * MINUTE, HOUR, DAY_US, WEEK, MONTH, YEAR]


def moment(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def micros(when: dt.datetime) -> int:
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def ref_start(us: int, width: Width) -> int:
    """The bucket start by datetime arithmetic (fixed widths: from the epoch)."""
    if isinstance(width, int):
        return us - us % width  # Python's % is a floor modulo, before 1970 too
    when = moment(us)
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if width.unit == "week":
        return micros(midnight - dt.timedelta(days=when.weekday()))  # Monday is 0
    if width.unit == "month":
        return micros(midnight.replace(day=1))
    return micros(midnight.replace(month=1, day=1))


def ref_end(start: int, width: Width) -> int:
    if isinstance(width, int):
        return start + width
    when = moment(start)
    if width.unit == "week":
        return micros(when + dt.timedelta(days=7))
    if width.unit == "month":
        year, month = divmod(when.month, 12)  # December rolls into January of the next year
        return micros(when.replace(year=when.year + year, month=month + 1))
    return micros(when.replace(year=when.year + 1))


def greedy(low: int, high: int, widths: Sequence[Width]) -> list[tuple[int, int, int]]:
    """From ``low``, the coarsest whole bucket that starts there and ends by ``high``, again
    from its end; runs of buckets of one level joined into one range."""
    out: list[tuple[int, int, int]] = []
    at = low
    while at < high:
        for level in range(len(widths) - 1, -1, -1):
            width = widths[level]
            if ref_start(at, width) == at and (end := ref_end(at, width)) <= high:
                break
        else:
            raise AssertionError(f"no bucket of {widths[0]} starts at {at}")
        if out and out[-1][0] == level and out[-1][2] == at:
            out[-1] = (level, out[-1][1], end)
        else:
            out.append((level, at, end))
        at = end
    return out


@SETTINGS
@given(st.lists(instants, min_size=1, max_size=50), st.sampled_from(WIDTHS))
def test_bucket_starts_and_ends_are_the_calendars(values: list[int], width: Width) -> None:
    array = np.array(values, dtype=np.int64)
    expected = [ref_start(v, width) for v in values]
    assert floor(array, width).tolist() == expected
    for value, start in zip(values, expected, strict=True):
        assert start_of(value, width) == start
        assert end_of(start, width) == ref_end(start, width)
        assert start <= value < end_of(start, width)
        assert ceil_of(value, width) == (start if start == value else ref_end(start, width))


@SETTINGS
@given(instants, st.sampled_from(WIDTHS), st.sampled_from(WIDTHS))
def test_nested_widths_share_every_coarse_boundary(us: int, finer: Width, coarser: Width) -> None:
    """Where ``nests`` says so, a coarse bucket starts on a fine boundary; where it says not,
    some coarse boundary near ``us`` falls inside a fine bucket."""
    if nests(finer, coarser):
        start = ref_start(us, coarser)
        assert ref_start(start, finer) == start
        assert ref_start(ref_end(start, coarser), finer) == ref_end(start, coarser)
    else:
        # some boundary of the next couple of hundred coarse buckets is not a fine one
        start = ref_start(us, coarser)
        for _ in range(200):
            if ref_start(start, finer) != start:
                break
            start = ref_end(start, coarser)
        else:
            raise AssertionError(f"{coarser} looks whole {finer}")


@SETTINGS
@given(st.sampled_from(CHAINS), instants, instants)
def test_spans_are_the_coarsest_whole_buckets(widths: tuple[Width, ...], a: int, b: int) -> None:
    low, high = sorted((ref_start(a, widths[0]), ref_start(b, widths[0])))
    got = spans(low, high, widths)
    assert got == greedy(low, high, widths)
    # they tile the range, each whole buckets of its level, at most two ranges a level
    assert [s for _, s, _ in got[1:]] == [e for _, _, e in got[:-1]]
    assert (got[0][1], got[-1][2]) == (low, high) if got else low == high
    for level, start, end in got:
        assert ref_start(start, widths[level]) == start
        assert ref_start(end, widths[level]) == end
    levels = [level for level, _, _ in got]
    assert all(levels.count(n) <= 2 for n in set(levels))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(LOW // 4, HIGH // 4), st.integers(-1000, 1000)),
        min_size=1,
        max_size=300,
    ),
    st.lists(st.tuples(st.integers(LOW // 4, HIGH // 4), st.integers(LOW // 4, HIGH // 4))),
    st.integers(1, 3),
)
def test_levels_answer_ranges_as_a_loop_over_the_events(
    events: list[tuple[int, int]], ranges: list[tuple[int, int]], batches: int
) -> None:
    """Events (1936 to 2030) in a few batches, out of time order, grouped by hour and
    folded into days, months and years; any range of whole hours sums its events."""
    widths: tuple[Width, ...] = (HOUR, DAY_US, MONTH, YEAR)
    kind = kind_of(aggregate("sum"), t("BIGINT"), ())
    levels = [Level(width) for width in widths]
    cut = len(events) // batches or 1
    offset = 0
    for first in range(0, len(events), cut):
        part = events[first : first + cut]
        times = np.array([time for time, _ in part], dtype=np.int64)
        grouped = Buckets.of(times, HOUR)
        rows, _, _ = grouped.select(None)
        offsets = np.arange(offset, offset + len(part), dtype=np.int64)
        offset += len(part)
        values = pa.array([value for _, value in part], type=pa.int64())
        partials = kind.partials(values, rows, offsets, grouped.starts)
        levels[0].merge(grouped.keys, partials, kind)
        # a later batch refolds from its earliest hour on, as the monitors do
        for number in range(1, len(levels)):
            levels[number].fold(levels[number - 1], kind, int(grouped.keys[0]))
    for a, b in ranges:
        low, high = sorted((ref_start(a, HOUR), ref_start(b, HOUR)))
        parts = []
        for number, start, end in spans(low, high, widths):
            at, to = levels[number].between(start, end)
            parts.append(levels[number].columns(at, to))
        kept = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
        got = (
            kind.results(kind.reduce(kept, np.zeros(1, dtype=np.int64)))[0]
            if kept and len(next(iter(kept.values())))
            else None
        )
        inside = [value for time, value in events if low <= time < high]
        assert got == (sum(inside) if inside else None)
    # and each calendar level holds exactly the events of its buckets
    for kept_level in levels[1:]:
        expected: dict[int, int] = {}
        for time, value in events:
            key = ref_start(time, kept_level.width)
            expected[key] = expected.get(key, 0) + value
        assert kept_level.keys.tolist() == sorted(expected)
        results = kind.results(kept_level.columns(0, kept_level.size))
        assert results == [expected[k] for k in sorted(expected)]


def test_calendar_is_a_value() -> None:
    """Levels and spans compare widths by value: a Calendar made anew is the same width."""
    assert Calendar("month") == MONTH
    assert hash(Calendar("year")) == hash(YEAR)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5_000), st.booleans()), min_size=1, max_size=400),
    st.sampled_from([1, 7, 100, 1_000]),
    st.booleans(),
)
def test_select_groups_the_chosen_rows_by_bucket(
    rows: list[tuple[int, bool]], width: int, in_order: bool
) -> None:
    """The rows a mask chooses, in bucket order, with where each bucket holding one starts
    among them and its key: as a loop over the rows finds them, with few buckets a batch
    and many (each found its own way)."""
    if in_order:
        rows = sorted(rows)
    times = np.array([time for time, _ in rows], dtype=np.int64)
    mask = np.array([chosen for _, chosen in rows], dtype=bool)
    grouped = Buckets.of(times, width)
    chosen, starts, keys = grouped.select(mask)
    expected = sorted((time // width * width, i) for i, (time, keep) in enumerate(rows) if keep)
    order = np.arange(len(rows)) if chosen is None else chosen
    assert [(int(times[i]) // width * width, int(i)) for i in order] == expected
    firsts = [n for n, (key, _) in enumerate(expected) if n == 0 or expected[n - 1][0] != key]
    assert starts.tolist() == firsts
    assert keys.tolist() == [expected[n][0] for n in firsts]
