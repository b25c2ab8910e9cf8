"""Bucket widths of time: a fixed number of microseconds, or a Gregorian unit in UTC.

A width is an ``int`` (buckets start at its multiples since the epoch) or a
:class:`Calendar` unit: weeks from Monday, months, years.  A UTC day is a fixed width
(:data:`DAY_US`): Unix time has no leap seconds.  Stream partitions, monitor buckets, flow
windows, roll-ups and time-series intervals all cut time with these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_US = 86_400_000_000
_WEEK_US = 7 * DAY_US
_MONDAY_US = 4 * DAY_US  # 1970-01-05: the epoch was a Thursday, ISO weeks start on Monday
_NUMPY_UNITS = {"month": "datetime64[M]", "year": "datetime64[Y]"}


@dataclass(frozen=True, slots=True)
class Calendar:
    """A Gregorian bucket width in UTC: ``"week"`` (Monday to Sunday, as ISO 8601 and DuckDB's
    ``date_trunc('week', ...)``), ``"month"`` or ``"year"``.

    Examples:
        >>> def us(text):
        ...     return int(np.datetime64(text, "us").astype(np.int64))
        >>> MONTH.start(us("2024-02-29T13:00")) == us("2024-02-01")
        True
        >>> MONTH.next(us("2024-02-01")) == us("2024-03-01"), YEAR.next(0) == us("1971-01-01")
        (True, True)
        >>> WEEK.start(us("2024-05-01")) == us("2024-04-29")  # a Wednesday; Monday the 29th
        True
    """

    unit: str

    def __post_init__(self) -> None:
        if self.unit not in ("week", *_NUMPY_UNITS):
            raise ValueError(f"calendar unit {self.unit!r} is not one of week, month, year")

    def floor(self, us: np.ndarray) -> np.ndarray:
        """The start of the bucket each epoch-microsecond value falls in."""
        if self.unit == "week":
            starts: np.ndarray = (us - _MONDAY_US) // _WEEK_US * _WEEK_US + _MONDAY_US
            return starts
        # numpy's datetime64 casts floor (also before 1970) and know the month lengths
        unit = _NUMPY_UNITS[self.unit]
        floored: np.ndarray = (
            us.astype("datetime64[us]").astype(unit).astype("datetime64[us]").astype(np.int64)
        )
        return floored

    def start(self, us: int) -> int:
        """The start of the bucket ``us`` falls in."""
        if self.unit == "week":
            return (us - _MONDAY_US) // _WEEK_US * _WEEK_US + _MONDAY_US
        unit = _NUMPY_UNITS[self.unit]
        return int(np.datetime64(us, "us").astype(unit).astype("datetime64[us]").astype(np.int64))

    def next(self, start: int) -> int:
        """The start of the bucket after the one starting at ``start``."""
        if self.unit == "week":
            return start + _WEEK_US
        unit = _NUMPY_UNITS[self.unit]
        following = np.datetime64(start, "us").astype(unit) + 1
        return int(following.astype("datetime64[us]").astype(np.int64))


WEEK = Calendar("week")
MONTH = Calendar("month")
YEAR = Calendar("year")
#: a bucket width: fixed microseconds, or a Gregorian unit
Width = int | Calendar
#: Kairos' Gregorian intervals
GREGORIAN: dict[str, Width] = {"daily": DAY_US, "weekly": WEEK, "monthly": MONTH, "yearly": YEAR}


def floor(us: np.ndarray, width: Width) -> np.ndarray:
    """The start of the bucket of ``width`` each epoch-microsecond value falls in.

    Examples:
        >>> floor(np.array([59, 61, -1]), 60).tolist()
        [0, 60, -60]
    """
    if isinstance(width, int):
        starts: np.ndarray = us // width * width
        return starts
    return width.floor(us)


def start_of(us: int, width: Width) -> int:
    """The start of the bucket of ``width`` that ``us`` falls in."""
    return us // width * width if isinstance(width, int) else width.start(us)


def end_of(start: int, width: Width) -> int:
    """The end (exclusive) of the bucket of ``width`` starting at ``start``."""
    return start + width if isinstance(width, int) else width.next(start)


def ceil_of(us: int, width: Width) -> int:
    """The first bucket boundary of ``width`` at or after ``us``."""
    if isinstance(width, int):
        return -(-us // width) * width
    start = width.start(us)
    return start if start == us else width.next(start)


def nests(finer: Width, coarser: Width) -> bool:
    """Whether every bucket boundary of ``coarser`` is one of ``finer`` (so a coarser bucket
    is whole finer ones).

    Examples:
        >>> nests(3_600_000_000, MONTH), nests(DAY_US, WEEK), nests(WEEK, MONTH), nests(MONTH, YEAR)
        (True, True, False, True)
    """
    if isinstance(finer, int):
        if isinstance(coarser, int):
            return coarser % finer == 0
        return DAY_US % finer == 0  # every calendar boundary is a UTC midnight
    if isinstance(coarser, int):
        return False  # fixed widths count from the epoch, a Thursday, the 1st of a month
    return (finer.unit, coarser.unit) in (
        ("week", "week"),
        ("month", "month"),
        ("month", "year"),
        ("year", "year"),
    )
