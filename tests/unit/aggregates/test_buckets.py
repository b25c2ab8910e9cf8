"""Time buckets (:mod:`rillet.aggregates.buckets`): Gregorian widths, nesting, spans, levels.

Expected bucket starts are hand-worked calendar dates; tests/property/test_buckets.py checks
the same against plain-Python datetime arithmetic over random times.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from rillet.aggregates import aggregate
from rillet.aggregates.buckets import Buckets, Level, spans
from rillet.aggregates.grouped import kind_of
from rillet.calendar import (
    DAY_US,
    GREGORIAN,
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
HOUR_US = 3_600_000_000


def us(text: str) -> int:
    """An ISO-8601 UTC time as epoch microseconds."""
    when = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return (when - EPOCH) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("width", "instant", "start", "end"),
    [
        # months of 31, 30, 29 (leap) and 28 days; 2000 is a leap year, 1900 and 2100 are not
        (MONTH, "2024-01-31T23:59:59.999999", "2024-01-01", "2024-02-01"),
        (MONTH, "2024-04-15T12:00", "2024-04-01", "2024-05-01"),
        (MONTH, "2024-02-29T13:00", "2024-02-01", "2024-03-01"),
        (MONTH, "2023-02-28T23:59:59.999999", "2023-02-01", "2023-03-01"),
        (MONTH, "2000-02-29", "2000-02-01", "2000-03-01"),
        (MONTH, "1900-02-28", "1900-02-01", "1900-03-01"),
        (MONTH, "2100-02-15", "2100-02-01", "2100-03-01"),
        (MONTH, "2023-12-31T23:00", "2023-12-01", "2024-01-01"),  # into the next year
        (MONTH, "1969-12-31T23:59:59.999999", "1969-12-01", "1970-01-01"),  # before the epoch
        (MONTH, "1970-01-01", "1970-01-01", "1970-02-01"),  # a boundary is its own start
        (YEAR, "2024-12-31T23:59:59.999999", "2024-01-01", "2025-01-01"),
        (YEAR, "1969-06-01", "1969-01-01", "1970-01-01"),
        (WEEK, "1970-01-01", "1969-12-29", "1970-01-05"),  # the epoch was a Thursday
        (WEEK, "2024-05-05T23:59:59.999999", "2024-04-29", "2024-05-06"),  # a Sunday
        (WEEK, "2024-05-06", "2024-05-06", "2024-05-13"),  # a Monday
        (WEEK, "2021-01-01", "2020-12-28", "2021-01-04"),  # ISO week 53 of 2020
        (DAY_US, "2024-02-29T23:59:59.999999", "2024-02-29", "2024-03-01"),
    ],
)
def test_calendar_buckets_start_and_end_on_the_dates(
    width: Width, instant: str, start: str, end: str
) -> None:
    assert start_of(us(instant), width) == us(start)
    assert end_of(us(start), width) == us(end)
    assert floor(np.array([us(instant)], dtype=np.int64), width).tolist() == [us(start)]
    # the first boundary at or after the instant: itself on a boundary, else the end
    assert ceil_of(us(instant), width) == (us(start) if instant == start else us(end))


def test_kairos_words_name_the_gregorian_widths() -> None:
    assert GREGORIAN == {"daily": DAY_US, "weekly": WEEK, "monthly": MONTH, "yearly": YEAR}
    with pytest.raises(ValueError, match="calendar unit 'fortnight' is not one of"):
        Calendar("fortnight")


@pytest.mark.parametrize(
    ("finer", "coarser", "expected"),
    [
        (1_000_000, 60_000_000, True),
        (60_000_000, 90_000_000, False),  # 1.5 min is not whole minutes
        (HOUR_US, DAY_US, True),
        (HOUR_US, MONTH, True),
        (7_200_000_000, WEEK, True),
        (5 * HOUR_US, MONTH, False),  # 5 h buckets do not meet every midnight
        (DAY_US, WEEK, True),
        (DAY_US, MONTH, True),
        (DAY_US, YEAR, True),
        (2 * DAY_US, MONTH, False),
        (WEEK, MONTH, False),  # a month is not whole weeks
        (WEEK, YEAR, False),
        (MONTH, WEEK, False),
        (MONTH, YEAR, True),
        (YEAR, MONTH, False),
        (WEEK, 7 * DAY_US, False),  # fixed weeks count from the epoch, a Thursday
        (MONTH, MONTH, True),
    ],
)
def test_nests(finer: Width, coarser: Width, expected: bool) -> None:
    assert nests(finer, coarser) is expected


def test_spans_cover_a_range_with_calendar_levels_above_fixed_ones() -> None:
    widths: tuple[Width, ...] = (1_000_000, 60_000_000, HOUR_US, DAY_US, MONTH, YEAR)
    low, high = us("2023-11-30T23:59:58"), us("2025-03-02T01:01:03")
    expected = [
        # no whole minute, hour or day before December: two seconds
        (0, us("2023-11-30T23:59:58"), us("2023-12-01")),
        (4, us("2023-12-01"), us("2024-01-01")),
        (5, us("2024-01-01"), us("2025-01-01")),
        (4, us("2025-01-01"), us("2025-03-01")),
        (3, us("2025-03-01"), us("2025-03-02")),
        (2, us("2025-03-02"), us("2025-03-02T01:00")),
        (1, us("2025-03-02T01:00"), us("2025-03-02T01:01")),
        (0, us("2025-03-02T01:01"), us("2025-03-02T01:01:03")),
    ]
    assert spans(low, high, widths) == expected


def test_spans_of_a_leap_february_are_one_month() -> None:
    widths: tuple[Width, ...] = (DAY_US, MONTH, YEAR)
    assert spans(us("2024-02-01"), us("2024-03-01"), widths) == [
        (1, us("2024-02-01"), us("2024-03-01"))
    ]
    # a day short of the month: its days
    assert spans(us("2024-02-01"), us("2024-02-29"), widths) == [
        (0, us("2024-02-01"), us("2024-02-29"))
    ]
    assert spans(us("2024-02-01"), us("2024-02-01"), widths) == []


def test_spans_of_days_and_weeks() -> None:
    widths: tuple[Width, ...] = (DAY_US, WEEK)
    # Wednesday 1 May 2024 to Wednesday 22 May: days to Monday 6th, two weeks, two days
    assert spans(us("2024-05-01"), us("2024-05-22"), widths) == [
        (0, us("2024-05-01"), us("2024-05-06")),
        (1, us("2024-05-06"), us("2024-05-20")),
        (0, us("2024-05-20"), us("2024-05-22")),
    ]


def test_buckets_of_a_calendar_width_group_rows_by_month_in_order() -> None:
    times = np.array(
        [us("2024-03-01"), us("2024-02-29T23:59:59.999999"), us("2024-02-01"), us("2024-03-31")],
        dtype=np.int64,
    )
    grouped = Buckets.of(times, MONTH)
    assert grouped.order is not None
    assert grouped.order.tolist() == [1, 2, 0, 3]  # stable: 29 Feb before 1 Feb (same month)
    assert grouped.keys.tolist() == [us("2024-02-01"), us("2024-03-01")]
    assert grouped.starts.tolist() == [0, 2]
    in_order = Buckets.of(np.sort(times), MONTH)
    assert in_order.order is None
    assert in_order.keys.tolist() == [us("2024-02-01"), us("2024-03-01")]


def test_a_month_level_is_folded_from_its_days() -> None:
    """Days of January to March 2024 (31 + 29 + 31) hold their day of the year as a count;
    months and the year fold from them, and a change to one day refolds only its month."""
    kind = kind_of(aggregate("sum"), t("BIGINT"), ())
    days, months, years = Level(DAY_US), Level(MONTH), Level(YEAR)
    starts = np.arange(us("2024-01-01"), us("2024-04-01"), DAY_US, dtype=np.int64)
    values = pa.array(np.arange(1, len(starts) + 1, dtype=np.int64))
    partials = kind.partials(values, None, np.arange(len(starts)), np.arange(len(starts)))
    days.merge(starts, partials, kind)
    months.fold(days, kind)
    years.fold(months, kind)
    assert months.keys.tolist() == [us("2024-01-01"), us("2024-02-01"), us("2024-03-01")]
    # January: days 1..31; February: 32..60 (29 days); March: 61..91
    assert kind.results(months.columns(0, 3)) == [sum(range(1, 32)), sum(range(32, 61)), 2356]
    assert sum(range(61, 92)) == 2356
    assert kind.results(years.columns(0, 1)) == [sum(range(1, 92))]
    # one more on 29 February: refold from that day on
    extra = kind.partials(pa.array([1000]), None, np.arange(1), np.zeros(1, dtype=np.int64))
    days.merge(np.array([us("2024-02-29")], dtype=np.int64), extra, kind)
    months.fold(days, kind, since=us("2024-02-29"))
    assert kind.results(months.columns(0, 3)) == [496, 1334 + 1000, 2356]
    assert sum(range(32, 61)) == 1334
