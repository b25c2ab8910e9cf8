"""Time: instants as epoch ns, durations, partition granularities (fixed and Gregorian)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rillet import errors
from rillet.calendar import MONTH
from rillet.time import Granularity, parse_duration_us, to_ns, us_to_datetime

S_US = 1_000_000
H_US = 3600 * S_US
D_US = 24 * H_US
T0 = 1714564800_000000000  # 2024-05-01T12:00:00Z


def _us(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    when = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (T0, T0),
        (-1, -1),
        (np.int64(5), 5),
        ("2024-05-01T12:00:00Z", T0),
        ("  2024-05-01T12:00:00+00:00 ", T0),
        ("2024-05-01T12:00:00", T0),
        ("2024-05-01 13:00:00+01:00", T0),
        ("2024-05-01T12:00:00.000001Z", T0 + 1000),
        ("2024-05-01", T0 - 12 * 3600 * 10**9),
        (dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), T0),
        (dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC).replace(tzinfo=None), T0),
        (dt.datetime(2024, 5, 1, 14, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), T0),
        (dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), -1000),
        (dt.date(1970, 1, 2), 86400 * 10**9),
        (pd.Timestamp("2024-05-01T12:00:00.000000123Z"), T0 + 123),
        (np.datetime64("2024-05-01T12:00:00.000000123", "ns"), T0 + 123),
        (np.datetime64("2024-05-01T12", "h"), T0),
    ],
)
def test_to_ns(value: Any, ns: int) -> None:
    assert to_ns(value) == ns
    assert type(to_ns(value)) is int


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        (True, TypeError, "expected a time, got bool"),
        (1.5, TypeError, "expected a time (datetime, ISO-8601 text or epoch ns), got float"),
        (None, TypeError, "got NoneType"),
        ("noon", ValueError, "'noon' is not an ISO-8601 time"),
        ("2024-13-01", ValueError, "is not an ISO-8601 time"),
    ],
)
def test_to_ns_rejects_what_is_not_a_time(value: Any, kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as info:
        to_ns(value)
    assert message in str(info.value)


def test_us_to_datetime() -> None:
    assert us_to_datetime(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert us_to_datetime(T0 // 1000) == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    assert us_to_datetime(-1) == dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    assert us_to_datetime(1).utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("5us", 5),
        ("3ms", 3000),
        ("90s", 90 * S_US),
        ("15m", 15 * 60 * S_US),
        ("15min", 15 * 60 * S_US),
        ("1h", H_US),
        (" 2 H ", 2 * H_US),
        ("7d", 7 * D_US),
        ("2w", 14 * D_US),
        ("secondly", S_US),
        ("minutely", 60 * S_US),
        ("hourly", H_US),
        ("Daily", D_US),
        ("weekly", 7 * D_US),
    ],
)
def test_parse_duration_us(text: str, micros: int) -> None:
    assert parse_duration_us(text) == micros


@pytest.mark.parametrize("text", ["", "h", "0h", "5", "5x", "-1h", "1.5h", "7 days", "monthly"])
def test_parse_duration_us_rejects_bad_text(text: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        parse_duration_us(text, "retention")
    assert str(info.value) == (
        f"retention {text!r} is not a duration such as '5s', '15m', '1h', '7d' or 'daily'"
    )
    assert info.value.detail == {"option": "retention", "value": text}


def test_fixed_granularity_floor_and_end() -> None:
    g = Granularity.parse("1h")
    assert (g.width_us, g.width) == (H_US, H_US)
    values = np.array([-1, 0, 1, H_US - 1, H_US, 5 * H_US + 7], dtype=np.int64)
    assert g.floor(values).tolist() == [-H_US, 0, 0, 0, H_US, 5 * H_US]
    assert g.end(5 * H_US) == 6 * H_US
    assert g.nominal_us() == H_US
    q = Granularity.parse("15m")
    assert q.floor(np.array([_us(2024, 5, 1, 12, 44, 59)])).tolist() == [_us(2024, 5, 1, 12, 30)]
    d = Granularity.parse("daily")
    assert d.floor(np.array([_us(2024, 5, 1, 23, 59)])).tolist() == [_us(2024, 5, 1)]
    assert d.end(_us(2024, 5, 1)) == _us(2024, 5, 2)


def test_monthly_granularity_follows_the_gregorian_calendar() -> None:
    g = Granularity.parse("Monthly")
    assert (g.width_us, g.width) == (0, MONTH)
    values = np.array(
        [_us(2024, 2, 29, 23, 59), _us(2024, 3, 1), _us(2023, 12, 31, 12), _us(1969, 12, 15)]
    )
    assert g.floor(values).tolist() == [
        _us(2024, 2, 1),
        _us(2024, 3, 1),
        _us(2023, 12, 1),
        _us(1969, 12, 1),
    ]
    assert g.end(_us(2024, 2, 1)) == _us(2024, 3, 1)  # 29 days in a leap year
    assert g.end(_us(2023, 2, 1)) == _us(2023, 3, 1)
    assert g.end(_us(2023, 12, 1)) == _us(2024, 1, 1)
    assert g.end(0) == _us(1970, 2, 1)
    assert g.nominal_us() == 31 * D_US


def test_weekly_partitions_are_calendar_weeks_from_monday() -> None:
    """As ``date_trunc('week', ...)`` and the monitors' weekly buckets: not 7 days from the
    epoch (a Thursday)."""
    g = Granularity.parse("weekly")
    wednesday, monday = _us(2024, 5, 1, 13), _us(2024, 4, 29)
    assert g.floor(np.array([wednesday])).tolist() == [monday]
    assert g.end(monday) == _us(2024, 5, 6)
    assert g.nominal_us() == 7 * D_US
    assert Granularity.parse("7d").floor(np.array([wednesday])).tolist() == [_us(2024, 4, 25)]


def test_yearly_granularity() -> None:
    g = Granularity.parse("yearly")
    assert g.floor(np.array([_us(2024, 12, 31, 23)])).tolist() == [_us(2024, 1, 1)]
    assert g.end(_us(2024, 1, 1)) == _us(2025, 1, 1)
    assert g.nominal_us() == 366 * D_US


@pytest.mark.parametrize("text", ["2x", "0d", "quarterly", ""])
def test_bad_granularity_is_a_config_error(text: str) -> None:
    with pytest.raises(errors.ConfigError, match="partition"):
        Granularity.parse(text)
