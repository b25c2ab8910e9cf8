"""A plain-Python model of Kairos' reads, written apart from rillet's: buckets from datetime
and strftime (weeks are found by walking back the days of the same ``%Y%U``), data from the
raw values inserted.  The conformance tests compare every back end against it."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

UTC = dt.UTC


def when(text: str) -> float:
    """ISO-8601 text (UTC) as epoch seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def bucket(t: float, width: int | str) -> int:
    """The start of the bucket ``t`` falls in, epoch seconds."""
    if isinstance(width, int):
        return int(t // width * width)
    day = dt.datetime.fromtimestamp(t, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if width == "daily":
        start = day
    elif width == "weekly":
        week = day.strftime("%Y%U")
        start = day
        while (start - dt.timedelta(days=1)).strftime("%Y%U") == week:
            start -= dt.timedelta(days=1)
    elif width == "monthly":
        start = day.replace(day=1)
    else:
        start = day.replace(month=1, day=1)
    return int(start.timestamp())


def bucket_end(start: int, width: int | str) -> int:
    """The start of the next bucket."""
    if isinstance(width, int):
        return start + width
    t = start
    while bucket(t, width) == start:
        t += 86400  # whole days: every Gregorian bucket starts at a midnight
    return bucket(t, width)


def kept(kind: str, values: list[Any]) -> Any:
    """What a bucket of ``kind`` keeps of the values inserted into it, in order."""
    if kind == "series":
        return list(values)
    if kind == "histogram":
        return dict(Counter(values))
    if kind == "count":
        return float(sum(1 if v is None else v for v in values))
    if kind == "gauge":
        return values[-1]
    return set(values)


EMPTY = {"series": [], "histogram": {}, "count": 0, "gauge": 0, "set": set()}


def transformed(kind: str, data: Any, name: str, step: float) -> Any:
    """Kairos' transforms (and rate, pNN) of one bucket, by hand."""
    if kind in ("count", "gauge"):
        return data / step if name == "rate" else data
    if kind == "histogram":
        values = sorted(v for v, n in data.items() for _ in range(n))
        if name == "rate":
            return {v: n / step for v, n in data.items()}
    else:
        values = sorted(data)
        if name == "rate":
            return len(values) / step
    if name == "mean":
        return sum(values) / len(values) if values else 0
    if name == "count":
        return len(values)
    if name == "min":
        return values[0] if values else 0
    if name == "max":
        return values[-1] if values else 0
    if name == "sum":
        return sum(values)
    q = float(name[1:]) / 100  # pNN: the value of rank ceil(q * n)
    if not values:
        return 0
    return values[max(1, math.ceil(q * len(values))) - 1]
