"""Kairos intervals: ``step``, ``steps`` and ``resolution``, as buckets of epoch seconds in UTC.

A width is a fixed number of seconds (``60``, ``"1h"``, ``"30d"``; Kairos' units: ``h``,
``d``, ``w``, ``m`` (30 days), ``y`` (365 days), and ``s``) or a Gregorian word: ``daily``
(a UTC day, which is fixed: Unix time has no leap seconds), ``weekly``, ``monthly``,
``yearly``.  Weeks are Kairos' own, ``%Y%U``: they start on Sunday and restart with each year,
so a year's first and last weeks may be short; a week's bucket starts on its Sunday, or on
January 1st for a year's first week.  Every bucket is keyed by its start, in whole epoch
seconds, never the local zone.

Examples:
    >>> jan = Interval.parse("w", {"step": "weekly", "steps": 2})
    >>> day = 86400
    >>> t = 1_704_153_600  # 2024-01-02, a Tuesday: week 00 of 2024 ran Monday 1st to Saturday 6th
    >>> jan.i_start(t) == t - day, jan.shift(jan.i_start(t), 1) == t + 5 * day
    (True, True)
    >>> jan.shift(jan.i_start(t), -1) == t - 2 * day  # Sunday 2023-12-31: a one-day week
    True
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rillet.errors import InputError, IntervalConfigError
from rillet.time import to_ns

DAY = 86_400
_WEEK = 7 * DAY
_SUNDAY = -4 * DAY  # 1969-12-28 was a Sunday (the epoch, a Thursday)
#: Kairos' simple times (``m`` is a 30-day month, ``y`` a 365-day year), and seconds
UNITS = {"s": 1, "h": 3600, "d": DAY, "w": _WEEK, "m": 30 * DAY, "y": 365 * DAY}
_SIMPLE = re.compile(r"^\s*([0-9]+)\s*([shdwmy]?)\s*$")
GREGORIAN = ("daily", "weekly", "monthly", "yearly")
KEYS = ("step", "steps", "resolution")


@dataclass(frozen=True, slots=True)
class Width:
    """Fixed seconds (``calendar`` None) or a Gregorian unit: ``"week"``, ``"month"``,
    ``"year"`` (``daily`` is the fixed width of a day)."""

    seconds: int
    calendar: str | None = None

    @classmethod
    def parse(cls, value: Any, key: str, interval: str) -> Width:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in GREGORIAN:
                unit = {"daily": None, "weekly": "week", "monthly": "month", "yearly": "year"}
                return cls(DAY, unit[word]) if unit[word] else cls(DAY)
            match = _SIMPLE.match(word)  # "30d", or "60": whole seconds
            if match and int(match.group(1)) > 0:
                return cls(int(match.group(1)) * UNITS[match.group(2) or "s"])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if value >= 1 and float(value).is_integer():
                return cls(int(value))
        raise IntervalConfigError(
            f"interval {interval!r}: {key} {value!r} is not a whole number of seconds >= 1, a "
            "duration such as '30d' or '1h', or one of daily, weekly, monthly, yearly",
            interval=interval,
            key=key,
            value=repr(value),
        )

    def floor(self, t: np.ndarray) -> np.ndarray:
        """The start of the bucket each time (epoch seconds, float or int) falls in."""
        seconds = np.floor(np.asarray(t, dtype=np.float64)).astype(np.int64)
        if self.calendar is None:
            starts: np.ndarray = seconds // self.seconds * self.seconds
            return starts
        if self.calendar == "week":
            sunday = (seconds - _SUNDAY) // _WEEK * _WEEK + _SUNDAY
            weeks: np.ndarray = np.maximum(sunday, _floor_unit(seconds, "Y"))
            return weeks
        return _floor_unit(seconds, "M" if self.calendar == "month" else "Y")

    def start(self, t: float) -> int:
        if self.calendar is None:  # plain Python: a single insert's hot path
            return math.floor(t) // self.seconds * self.seconds
        return int(self.floor(np.array([t]))[0])

    def next(self, start: int) -> int:
        """The start of the bucket after the one starting at ``start``."""
        if self.calendar is None:
            return start + self.seconds
        if self.calendar == "week":
            sunday = (start - _SUNDAY) // _WEEK * _WEEK + _SUNDAY + _WEEK
            year_end = int(_next_unit(np.array([start]), "Y")[0])
            return min(sunday, year_end)
        return int(_next_unit(np.array([start]), "M" if self.calendar == "month" else "Y")[0])

    def shift(self, start: int, steps: int) -> int:
        """The start of the bucket ``steps`` buckets after (before, if negative) ``start``'s."""
        if self.calendar is None:
            return start + steps * self.seconds
        return _calendar_shift(self, start, steps)

    def nests_in(self, coarser: Width) -> bool:
        """Whether every bucket boundary of ``coarser`` is one of this width's."""
        if self.calendar is None:
            if coarser.calendar is None:
                return coarser.seconds % self.seconds == 0
            return DAY % self.seconds == 0  # calendar boundaries are UTC midnights
        if coarser.calendar is None:
            return False
        order = ("week", "month", "year")
        if self.calendar == "week":  # %U weeks restart each year, never each month
            return coarser.calendar in ("week", "year")
        return order.index(self.calendar) <= order.index(coarser.calendar)


@functools.lru_cache(maxsize=4096)
def _calendar_shift(width: Width, start: int, steps: int) -> int:
    """Months and years by numpy's calendar arithmetic; %U weeks (clipped at each year's
    ends) one at a time.  Cached: reads and writes ask for the same few shifts (TTL)."""
    if width.calendar in ("month", "year"):
        unit = "M" if width.calendar == "month" else "Y"
        moved = np.datetime64(start, "s").astype(f"datetime64[{unit}]") + steps
        return int(moved.astype("datetime64[s]").astype(np.int64))
    for _ in range(steps):
        start = width.next(start)
    for _ in range(-steps):
        start = width.start(start - 1)
    return start


def _floor_unit(seconds: np.ndarray, unit: str) -> np.ndarray:
    starts: np.ndarray = (
        seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]").astype("datetime64[s]")
    ).astype(np.int64)
    return starts


def _next_unit(seconds: np.ndarray, unit: str) -> np.ndarray:
    ends: np.ndarray = (
        (seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]") + 1)
        .astype("datetime64[s]")
        .astype(np.int64)
    )
    return ends


@dataclass(frozen=True, slots=True)
class Interval:
    """One named interval: buckets of ``step``, optionally in ``resolution`` buckets, the
    newest ``steps`` of them kept (all without ``steps``)."""

    name: str
    step: Width
    resolution: Width
    steps: int | None

    @property
    def coarse(self) -> bool:
        """Whether there is no resolution finer than the step."""
        return self.resolution == self.step

    @classmethod
    def parse(cls, name: Any, config: Any) -> Interval:
        if not isinstance(name, str) or not name:
            raise IntervalConfigError(
                f"interval name {name!r} must be non-empty text", interval=repr(name)
            )
        if not isinstance(config, Mapping):
            raise IntervalConfigError(
                f"interval {name!r}: expected a dict with step, steps and resolution, "
                f"got {type(config).__name__}",
                interval=name,
            )
        unknown = [str(k) for k in config if k not in KEYS]
        if unknown:
            raise IntervalConfigError(
                f"interval {name!r}: unknown key {unknown[0]!r}; expected step, steps, resolution",
                interval=name,
                key=unknown[0],
            )
        if config.get("step") is None:
            raise IntervalConfigError(
                f"interval {name!r}: step is required", interval=name, key="step"
            )
        step = Width.parse(config["step"], "step", name)
        raw = config.get("resolution")
        resolution = step if raw is None else Width.parse(raw, "resolution", name)
        if not resolution.nests_in(step):
            raise IntervalConfigError(
                f"interval {name!r}: resolution {raw!r} does not divide step "
                f"{config['step']!r} into whole buckets",
                interval=name,
                key="resolution",
                value=repr(raw),
            )
        steps = config.get("steps")
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
        ):
            raise IntervalConfigError(
                f"interval {name!r}: steps {steps!r} must be a whole number >= 1 (or left out)",
                interval=name,
                key="steps",
                value=repr(steps),
            )
        return cls(name, step, resolution, steps)

    def i_start(self, t: float) -> int:
        """The start of the interval bucket ``t`` falls in."""
        return self.step.start(t)

    def shift(self, start: int, steps: int) -> int:
        return self.step.shift(start, steps)

    def buckets(self, first: int, last: int) -> list[int]:
        """The interval buckets' starts from ``first`` to ``last``, both included."""
        if self.step.calendar is None:
            return list(range(first, last + 1, self.step.seconds))
        out = []
        while first <= last:
            out.append(first)
            first = self.step.next(first)
        return out

    def live_from(self, now: float) -> int | None:
        """The first live interval bucket (the newest ``steps`` are), None without steps."""
        if self.steps is None:
            return None
        return self.shift(self.i_start(now), 1 - self.steps)

    def expires(self, i_starts: np.ndarray) -> np.ndarray | None:
        """When each bucket stops being live: the start of the bucket ``steps`` later."""
        if self.steps is None:
            return None
        if self.step.calendar is None:
            out: np.ndarray = i_starts + self.steps * self.step.seconds
            return out
        unique, inverse = np.unique(i_starts, return_inverse=True)
        ends = np.array([self.shift(int(s), self.steps) for s in unique], dtype=np.int64)
        result: np.ndarray = ends[inverse]
        return result


def parse_intervals(intervals: Any) -> dict[str, Interval]:
    """The ``intervals`` argument of ``Timeseries``: a non-empty dict of name -> config."""
    if not isinstance(intervals, Mapping) or not intervals:
        raise IntervalConfigError(
            "intervals is required: a dict of interval name -> {step, steps, resolution}, "
            f"got {intervals!r}",
            key="intervals",
        )
    return {str(name): Interval.parse(name, config) for name, config in intervals.items()}


def seconds(value: Any) -> float:
    """A timestamp as epoch seconds: a number (Kairos' form), a datetime (naive is UTC), a
    date or ISO-8601 text.

    Examples:
        >>> import datetime as dt
        >>> seconds(90), seconds("1970-01-01T00:01:30Z"), seconds(dt.date(1970, 1, 2))
        (90.0, 90.0, 86400.0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InputError(f"timestamp {value!r} is not a finite number of seconds")
        return float(value)
    try:
        return to_ns(value) / 1e9
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"timestamp {value!r}: expected epoch seconds, a datetime or ISO-8601 text ({exc})",
            value=repr(value),
        ) from None
