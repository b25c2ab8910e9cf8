"""Time: instants as epoch nanoseconds or microseconds, durations and partition granularities.

Storage keeps TIMESTAMP as epoch microseconds (DuckDB's TIMESTAMPTZ); the API takes epoch
nanoseconds, datetimes and ISO-8601 text.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

import numpy as np

from rillet.calendar import DAY_US, MONTH, WEEK, YEAR, Width, end_of, floor
from rillet.errors import ConfigError, InputError

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: the tzinfo pyarrow gives TIMESTAMP values, so every read path returns the same objects
UTC = zoneinfo.ZoneInfo("UTC")
_EPOCH_READ = dt.datetime(1970, 1, 1, tzinfo=UTC)
US = 1
MS = 1000 * US
S = 1000 * MS
UNITS_US = {
    "us": US,
    "ms": MS,
    "s": S,
    "m": 60 * S,
    "min": 60 * S,
    "h": 3600 * S,
    "d": 86400 * S,
    "w": 7 * 86400 * S,
}
WORDS = {"secondly": "1s", "minutely": "1m", "hourly": "1h", "daily": "1d", "weekly": "1w"}
#: partitions cut by the calendar, not a fixed width (a duration of "1w" counts from the epoch)
CALENDAR: dict[str, Width] = {"weekly": WEEK, "monthly": MONTH, "yearly": YEAR}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")


def to_ns(value: Any) -> int:
    """An instant as epoch nanoseconds: from an int (epoch ns), a datetime (naive means UTC),
    a date, ISO-8601 text or a numpy datetime64.

    Examples:
        >>> to_ns("1970-01-01T00:00:01Z")
        1000000000
        >>> to_ns(dt.datetime(1970, 1, 1, 0, 0, 2, tzinfo=dt.UTC))
        2000000000
    """
    if isinstance(value, bool):
        raise TypeError("expected a time, got bool")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, dt.datetime):
        nanos = int(getattr(value, "nanosecond", 0))  # pandas.Timestamp keeps nanoseconds
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        micros: int = (value - EPOCH) // dt.timedelta(microseconds=1)
        return micros * 1000 + nanos
    if isinstance(value, dt.date):
        return to_ns(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
    if isinstance(value, str):
        try:
            return to_ns(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 time") from None
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64).item())
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(
        f"expected a time (datetime, ISO-8601 text or epoch ns), got {type(value).__name__}"
    )


def bound_us(value: Any) -> int | None:
    """A range bound as epoch microseconds: the first microsecond at or after it.

    Examples:
        >>> bound_us(1_000_000_001), bound_us(1_000_000_000), bound_us(None)
        (1000001, 1000000, None)
    """
    if value is None:
        return None
    try:
        return -(-to_ns(value) // 1000)
    except (TypeError, ValueError) as exc:
        raise InputError(f"time bound {value!r}: {exc}", value=repr(value)) from None


def us_to_datetime(us: int) -> dt.datetime:
    """Epoch microseconds as a UTC datetime."""
    return _EPOCH_READ + dt.timedelta(microseconds=us)


def parse_duration_us(text: str, what: str = "duration") -> int:
    """A fixed duration such as ``"5s"``, ``"1h"``, ``"30d"`` or ``"daily"`` in microseconds.

    Examples:
        >>> parse_duration_us("90s")
        90000000
    """
    word = WORDS.get(text.strip().lower(), text)
    match = _DURATION.match(word.lower())
    if match is None or match.group(2) not in UNITS_US or int(match.group(1)) == 0:
        raise ConfigError(
            f"{what} {text!r} is not a duration such as '5s', '15m', '1h', '7d' or 'daily'",
            option=what,
            value=text,
        )
    return int(match.group(1)) * UNITS_US[match.group(2)]


def duration_text(us: int) -> str:
    """A positive duration as the shortest text :func:`parse_duration_us` reads back, in the
    largest unit that holds it whole (for messages that suggest a setting).

    Examples:
        >>> [duration_text(n) for n in (100_000, 1_000_000, 90_000_000, 1_500, 86_400_000_000)]
        ['100ms', '1s', '90s', '1500us', '1d']
    """
    for unit in ("d", "h", "m", "s", "ms"):
        if us % UNITS_US[unit] == 0:
            return f"{us // UNITS_US[unit]}{unit}"
    return f"{us}us"


@dataclass(frozen=True, slots=True)
class Granularity:
    """How a stream's time is cut into partitions: a fixed width (``1h``, ``1d``), or a
    Gregorian unit in UTC (``weekly`` from Monday, ``monthly``, ``yearly``), the widths of
    :mod:`rillet.calendar` that monitors and flows cut time with too (the epoch's week
    began on Monday, 29 December 1969).

    Examples:
        >>> g = Granularity.parse("1h")
        >>> int(g.floor(np.array([3_600_000_001], dtype=np.int64))[0])
        3600000000
        >>> Granularity.parse("monthly").end(0)  # February 1st, 1970
        2678400000000
        >>> int(Granularity.parse("weekly").floor(np.array([0]))[0]) // 86_400_000_000
        -3
    """

    text: str
    width: Width

    @classmethod
    def parse(cls, text: str, what: str = "partition") -> Granularity:
        key = text.strip().lower()
        if key in CALENDAR:
            return cls(key, CALENDAR[key])
        return cls(text, parse_duration_us(text, what))

    @property
    def width_us(self) -> int:
        """The fixed width; 0 for a Gregorian unit."""
        return self.width if isinstance(self.width, int) else 0

    def floor(self, us: np.ndarray) -> np.ndarray:
        """The start of the bucket each epoch-microsecond value falls in."""
        return floor(us, self.width)

    def end(self, start_us: int) -> int:
        """The end (exclusive) of the bucket that starts at ``start_us``."""
        return end_of(start_us, self.width)

    def nominal_us(self) -> int:
        """A typical bucket width, for grace periods."""
        if isinstance(self.width, int):
            return self.width
        return {"week": 7, "month": 31, "year": 366}[self.width.unit] * DAY_US


def group_by_key(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Row positions grouped by key (e.g. a time bucket), keys ascending.

    Sorted input (the common case for event time) costs one diff; otherwise one stable sort.

    Examples:
        >>> [(k, p.tolist()) for k, p in group_by_key(np.array([5, 5, 3, 5]))]
        [(3, [2]), (5, [0, 1, 3])]
    """
    if len(keys) == 0:
        return []
    positions = np.arange(len(keys))
    if len(keys) > 1 and (keys[1:] < keys[:-1]).any():
        positions = np.argsort(keys, kind="stable")
    ordered = keys[positions]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(keys)]])
    return [(int(ordered[s]), positions[s:e]) for s, e in zip(starts, ends, strict=True)]
