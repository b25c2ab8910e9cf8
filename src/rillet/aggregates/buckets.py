"""Time buckets: a batch's rows grouped by bucket, and partial states kept per bucket at
several widths, the part that monitors, flow windows, roll-ups and time-series intervals share.

A width (:mod:`rillet.calendar`) is a fixed number of microseconds or a Gregorian unit.

A :class:`Level` keeps the partial states (:mod:`rillet.aggregates.grouped` columns) of one
width, keyed by bucket start; a coarser level is reduced from the one below it
(:meth:`Level.fold`), and :func:`spans` answers a time range from a few slices of the levels.
Both need the levels to nest: every bucket boundary of a level is one of the level below
(:func:`nests`), e.g. seconds, minutes, hours, days, months, years; or days, weeks; never
weeks, months (a month is not whole weeks).

Examples:
    >>> import numpy as np
    >>> from rillet.calendar import DAY_US, MONTH
    >>> b = Buckets.of(np.array([DAY_US + 5, 40 * DAY_US, DAY_US]), MONTH)
    >>> b.keys.tolist() == [0, 31 * DAY_US], b.starts.tolist(), b.order.tolist()
    (True, [0, 2], [0, 2, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rillet.aggregates.grouped import Columns, Kind
from rillet.calendar import (
    Calendar,
    Width,
    ceil_of,
    floor,
    start_of,
)


def run_starts(keys: np.ndarray) -> np.ndarray:
    """The first position of each run of equal keys."""
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts: np.ndarray = np.concatenate([np.zeros(1, dtype=np.int64), cuts])
    return starts


@dataclass(frozen=True, slots=True)
class Buckets:
    """A batch's rows grouped by time bucket of one width, made once per batch for all
    the aggregates of that width.

    ``order`` puts the rows in bucket order (a stable sort, so offsets stay ascending within
    a bucket), or is None when they are in it already; ``keys`` and ``starts`` give each
    bucket's start time and its first row in that order.
    """

    order: np.ndarray | None
    keys: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, times: np.ndarray, width: Width) -> Buckets:
        if not isinstance(width, int):
            return cls._of_calendar(times, width)
        order = None
        if len(times) > 1 and (times[1:] < times[:-1]).any():
            fine = times // width
            if (fine[1:] < fine[:-1]).any():
                order = np.argsort(fine, kind="stable")
                times = times[order]
        first, last = int(times[0]) // width * width, int(times[-1]) // width * width
        if (last - first) // width < len(times) // 8:
            # times in bucket order: find where each bucket begins instead of dividing each
            bounds = np.arange(first + width, last + width, width, dtype=np.int64)
            begins = np.concatenate([np.zeros(1, dtype=np.int64), np.searchsorted(times, bounds)])
            held = np.append(begins[1:], len(times)) > begins  # skip empty buckets
            keys = np.arange(first, last + width, width, dtype=np.int64)[held]
            return cls(order, keys, begins[held])
        bucket = times // width * width
        begin = run_starts(bucket)
        return cls(order, bucket[begin], begin)

    @classmethod
    def _of_calendar(cls, times: np.ndarray, width: Calendar) -> Buckets:
        bucket = width.floor(times)
        order = None
        if len(bucket) > 1 and (bucket[1:] < bucket[:-1]).any():
            order = np.argsort(bucket, kind="stable")
            bucket = bucket[order]
        begin = run_starts(bucket)
        return cls(order, bucket[begin], begin)

    def select(self, mask: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The rows where ``mask`` holds (None: every row) in bucket order, as positions in
        the batch (None: every row, and the batch is in order); where each bucket that holds
        one of them starts among them, and the buckets' keys."""
        if mask is None:
            return self.order, self.starts, self.keys
        ordered = mask if self.order is None else mask[self.order]
        positions = np.flatnonzero(ordered)
        rows = positions if self.order is None else self.order[positions]
        if len(self.starts) * 32 < len(ordered):  # few buckets: a binary search each
            first = np.searchsorted(positions, self.starts)
            held = np.diff(np.append(first, len(positions))) > 0
            return rows, first[held], self.keys[held]
        # many (100 ms buckets of a slow stream): each bucket's rows counted in one pass
        counts = np.add.reduceat(ordered.view(np.uint8), self.starts, dtype=np.int64)
        held = counts > 0
        return rows, (np.cumsum(counts) - counts)[held], self.keys[held]


class Level:
    """The partial states of one bucket width: keys (bucket starts) ascending, columns
    alike, with room to grow at the end (where new buckets nearly always go)."""

    def __init__(self, width: Width) -> None:
        self.width = width
        self.size = 0
        self._keys = np.empty(0, dtype=np.int64)
        self._columns: Columns = {}

    @property
    def keys(self) -> np.ndarray:
        return self._keys[: self.size]

    def columns(self, low: int, high: int) -> Columns:
        """The rows from position ``low`` to ``high`` (views)."""
        return {name: column[low:high] for name, column in self._columns.items()}

    def between(self, start: int | None, end: int | None) -> tuple[int, int]:
        """Positions of the keys in ``[start, end)``."""
        keys = self.keys
        low = 0 if start is None else int(np.searchsorted(keys, start))
        high = self.size if end is None else int(np.searchsorted(keys, end))
        return low, high

    def merge(self, keys: np.ndarray, columns: Columns, kind: Kind) -> None:
        """Fold partials (``keys`` ascending and distinct) into the kept ones."""
        if not len(keys):
            return
        if self.size == 0 or keys[0] > self._keys[self.size - 1]:
            self._append(keys, columns)
            return
        if keys[0] == self._keys[self.size - 1]:  # the newest bucket continues: the usual case
            last = self.size - 1
            pair = {
                k: np.concatenate([v[last : self.size], columns[k][:1]])
                for k, v in self._columns.items()
            }
            merged = kind.reduce(pair, np.zeros(1, dtype=np.int64))
            self.size = last
            self._append(keys[:1], merged)
            if len(keys) > 1:
                self._append(keys[1:], {k: v[1:] for k, v in columns.items()})
            return
        low, high = self.between(int(keys[0]), int(keys[-1]) + 1)
        both = np.concatenate([self._keys[low:high], keys])
        order = np.argsort(both, kind="stable")
        both = both[order]
        first = run_starts(both)
        kept = self.columns(low, high)
        merged = kind.reduce(
            {name: np.concatenate([kept[name], columns[name]])[order] for name in columns},
            first,
        )
        if high == self.size:  # the usual overlap: the newest bucket continues
            self.size = low
            self._append(both[first], merged)
            return
        tail = self.columns(high, self.size)
        self._keys = np.concatenate([self._keys[:low], both[first], self._keys[high : self.size]])
        self._columns = {
            name: np.concatenate([column[:low], merged[name], tail[name]])
            for name, column in self._columns.items()
        }
        self.size = len(self._keys)

    def fold(self, finer: Level, kind: Kind, since: int | None = None) -> None:
        """Make this level's buckets from the one holding ``since`` on (all without) again,
        reduced from the buckets of ``finer``, a level that nests in it (a day from 24
        hours, a month from its days)."""
        start = None if since is None else start_of(since, self.width)
        if start is None:
            self.size = 0
        else:
            self.truncate(start)
        low, high = finer.between(start, None)
        if low < high:
            coarse = floor(finer.keys[low:high], self.width)
            first = run_starts(coarse)
            self.merge(coarse[first], kind.reduce(finer.columns(low, high), first), kind)

    def _append(self, keys: np.ndarray, columns: Columns) -> None:
        end = self.size + len(keys)
        if end > len(self._keys):
            room = max(end, 2 * len(self._keys), 64)
            self._keys = _grown(self._keys[: self.size], room)
            self._columns = {
                name: _grown(self._columns[name][: self.size], room)
                if name in self._columns
                else np.empty(room, dtype=column.dtype)
                for name, column in columns.items()
            }
        self._keys[self.size : end] = keys
        for name, column in columns.items():
            self._columns[name][self.size : end] = column
        self.size = end

    def truncate(self, start: int) -> None:
        """Forget the buckets from ``start`` on."""
        self.size = int(np.searchsorted(self.keys, start))

    def drop_before(self, start: int) -> None:
        """Forget the buckets before ``start``."""
        low = int(np.searchsorted(self.keys, start))
        if low:
            self._keys = self._keys[low : self.size].copy()
            self._columns = {k: v[low : self.size].copy() for k, v in self._columns.items()}
            self.size -= low


def _grown(array: np.ndarray, room: int) -> np.ndarray:
    grown = np.empty(room, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def spans(low: int, high: int, widths: Sequence[Width]) -> list[tuple[int, int, int]]:
    """``[low, high)`` (bucket boundaries of ``widths[0]``) as ``(level, start, end)`` ranges
    of whole buckets, the coarsest that fit: at most two ranges a level and one of the
    coarsest.  Each width nests in the next (:func:`nests`).

    Examples:
        >>> spans(30, 7260, (1, 60, 3600))  # 30 s to 2:01:00
        [(0, 30, 60), (1, 60, 3600), (2, 3600, 7200), (1, 7200, 7260)]
        >>> from rillet.calendar import DAY_US, MONTH
        >>> jan30, mar2 = 29 * DAY_US, (31 + 28 + 1) * DAY_US  # 1970: February has 28 days
        >>> [(n, s // DAY_US, e // DAY_US) for n, s, e in spans(jan30, mar2, (DAY_US, MONTH))]
        [(0, 29, 31), (1, 31, 59), (0, 59, 60)]
    """

    def cover(start: int, end: int, level: int) -> list[tuple[int, int, int]]:
        if start >= end:
            return []
        if level == 0:
            return [(0, start, end)]
        width = widths[level]
        if isinstance(width, int):
            first, last = -(-start // width) * width, end // width * width
        else:
            first, last = ceil_of(start, width), width.start(end)
        if first >= last:
            return cover(start, end, level - 1)
        return [
            *cover(start, first, level - 1),
            (level, first, last),
            *cover(last, end, level - 1),
        ]

    return cover(low, high, len(widths) - 1)
