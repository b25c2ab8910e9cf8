"""A named aggregate over a filter: partial states per time bucket, at several widths.

States are kept as columns (:mod:`rillet.aggregates.grouped`) per bucket of the aggregate's
resolution and also per second (when the resolution is finer), minute, hour and day, each
level sorted by bucket.  A batch adds its buckets' partials with a few numpy reductions
whatever the number of buckets it spans; the coarser levels are reduced from the finer when
next read.  Any time range is answered from a few slices of the levels (seven for a 1 s
resolution, nine for a finer one): the buckets up to the first whole second, the seconds up
to the first whole minute, the minutes up to the first whole hour, the hours, the days, and
back down.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rillet.aggregates import AGGREGATES, AggregateValue
from rillet.aggregates.grouped import Columns, Kind, kind_of
from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import Context, compile, evaluate
from rillet.expressions.nodes import Call, Cast, Literal, Node

# a second too: the buckets of a 10 ms aggregate (kept for a 10 ms trigger) still make a day
# from a few slices, and a 1 s trigger over it reads seconds, not a hundred buckets each
COARSER_US = (1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000)
_CURRENT = 2**63 - 1


def _constant(node: Node) -> Any:
    while isinstance(node, Cast):
        node = node.operand
    assert isinstance(node, Literal)
    return node.value


def widths_for(resolution_us: int) -> tuple[int, ...]:
    """The bucket widths kept for a resolution: it, and each coarser width it divides."""
    coarser = (w for w in COARSER_US if w > resolution_us and w % resolution_us == 0)
    return (resolution_us, *coarser)


def _starts(keys: np.ndarray) -> np.ndarray:
    """The first position of each run of equal keys."""
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts: np.ndarray = np.concatenate([np.zeros(1, dtype=np.int64), cuts])
    return starts


@dataclass(frozen=True, slots=True)
class Buckets:
    """A batch's rows grouped by time bucket of one resolution, made once per batch for all
    the aggregates of that resolution.

    ``order`` puts the rows in bucket order (a stable sort, so offsets stay ascending within
    a bucket), or is None when they are in it already; ``keys`` and ``starts`` give each
    bucket's start time and its first row in that order.
    """

    order: np.ndarray | None
    keys: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, times: np.ndarray, width: int) -> Buckets:
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
        begin = _starts(bucket)
        return cls(order, bucket[begin], begin)

    def select(self, mask: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The rows where ``mask`` holds, in bucket order, as positions in the batch and
        in bucket order (None: every row, and the batch is in order)."""
        if mask is None:
            return self.order, None
        positions = np.flatnonzero(mask if self.order is None else mask[self.order])
        rows = positions if self.order is None else self.order[positions]
        return rows, positions

    def held(self, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Where each bucket that holds a selected row starts among the selected rows
        (``positions`` in bucket order, None for all), and the buckets' keys."""
        if positions is None:
            return self.starts, self.keys
        first = np.searchsorted(positions, self.starts)
        held = np.diff(np.append(first, len(positions))) > 0
        return first[held], self.keys[held]


class Level:
    """The partial states of one bucket width: keys ascending, columns alike, with room to
    grow at the end (where new buckets nearly always go)."""

    def __init__(self, width: int) -> None:
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
        first = _starts(both)
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
        low = int(np.searchsorted(self.keys, start))
        if low:
            self._keys = self._keys[low : self.size].copy()
            self._columns = {k: v[low : self.size].copy() for k, v in self._columns.items()}
            self.size -= low


def _grown(array: np.ndarray, room: int) -> np.ndarray:
    grown = np.empty(room, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def spans(low: int, high: int, widths: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """``[low, high)`` (multiples of ``widths[0]``) as ``(level, start, end)`` ranges of
    whole buckets, the coarsest that fit: at most two ranges a level and one of the coarsest.

    Examples:
        >>> spans(30, 7260, (1, 60, 3600))  # 30 s to 2:01:00
        [(0, 30, 60), (1, 60, 3600), (2, 3600, 7200), (1, 7200, 7260)]
    """

    def cover(start: int, end: int, level: int) -> list[tuple[int, int, int]]:
        if start >= end:
            return []
        if level == 0:
            return [(0, start, end)]
        width = widths[level]
        first, last = -(-start // width) * width, end // width * width
        if first >= last:
            return cover(start, end, level - 1)
        return [
            *cover(start, first, level - 1),
            (level, first, last),
            *cover(last, end, level - 1),
        ]

    return cover(low, high, len(widths) - 1)


class AggregateMonitor:
    """``function(argument)`` over the records a filter matches, by time bucket."""

    def __init__(
        self,
        name: str,
        filter_name: str | None,
        expression: str,
        columns: Mapping[str, DataType],
        resolution_us: int,
        from_offset: int,
        fixed_by: str | None = None,
    ) -> None:
        node = check(expression, columns, allow_aggregates=True)
        if not (isinstance(node, Call) and node.aggregate):
            raise TypeCheckError(
                f"an aggregate must be one aggregate function call such as MAX(op_latency_ms), "
                f"not {expression!r}",
                line=node.line,
                col=node.col,
            )
        assert node.type is not None
        self.name = name
        self.filter_name = filter_name
        self.expression = expression
        self.node = node
        self.type: DataType = node.type
        self.argument = compile(node.args[0]) if node.args else None
        self.function = AGGREGATES[node.name]
        self.arg_type = node.args[0].type if node.args else None
        self.params = tuple(_constant(a) for a in node.args[1:])
        # a bad parameter (APPROX_QUANTILE(x, 1.5)) fails here, not at ingest
        self.kind = kind_of(self.function, self.arg_type, self.params)
        self._nothing = self.function.new_state(self.arg_type, self.params).result()
        self.from_offset = from_offset
        # whose resolution this is, "aggregate" (given to it) or "filter" (given to its
        # filter); None: automatic, made finer (by the monitor set) when a trigger needs it
        self.fixed_by = fixed_by
        self._empty_levels(resolution_us)
        self.errors = 0

    def _empty_levels(self, resolution_us: int) -> None:
        self.resolution_us = resolution_us
        self.widths = widths_for(resolution_us)
        self.levels = [Level(width) for width in self.widths]
        # per level, the least finest bucket changed since that level was made (level 0: none)
        self._stale = [_CURRENT] * len(self.levels)

    def at_resolution(self, resolution_us: int) -> AggregateMonitor:
        """A new aggregate like this one (same definition) at ``resolution_us``, holding no
        states yet: a finer one is filled from the stored records."""
        other = copy.copy(self)  # the definition's parts (kernel, kind) hold no running state
        other._empty_levels(resolution_us)
        other.errors = 0
        return other

    def coarsened(self, resolution_us: int) -> AggregateMonitor:
        """This aggregate at a coarser resolution (a multiple of its own), its states reduced
        from the kept ones: no stored record is read again."""
        coarse = self.at_resolution(resolution_us)
        coarse.errors = self.errors
        fine = self.levels[0]
        if fine.size:
            keys = fine.keys // resolution_us * resolution_us
            first = _starts(keys)
            reduced = self.kind.reduce(fine.columns(0, fine.size), first)
            coarse.levels[0].merge(keys[first], reduced, self.kind)
            coarse._changed(int(keys[0]))  # the coarser levels are reduced when read
        return coarse

    def observe(
        self, ctx: Context, buckets: Buckets, offsets: np.ndarray, mask: np.ndarray | None
    ) -> None:
        """Fold the rows of a batch where ``mask`` holds (None: all) into their buckets."""
        if mask is not None and not mask.any():
            return
        values = evaluate(self.argument, ctx) if self.argument is not None else None
        kind = self.kind
        rows, positions = buckets.select(mask)
        starts, keys = buckets.held(positions)
        partials = kind.partials(values, rows, offsets, starts)
        self.levels[0].merge(keys, partials, kind)
        # the coarser levels are reduced when read: one merge a batch, not one a level
        self._changed(int(keys[0]))

    def _changed(self, start_us: int) -> None:
        self._stale = [self._stale[0]] + [min(s, start_us) for s in self._stale[1:]]

    def _refresh(self, through: int | None = None) -> None:
        """Reduce the buckets of the coarser levels (up to level ``through``, all without)
        changed since they were last read from those of the level below (a day from 24
        hours, not 86,400 seconds)."""
        kind = self.kind
        last = len(self.levels) - 1 if through is None else through
        for number in range(1, last + 1):
            if self._stale[number] == _CURRENT:
                continue
            finer, level = self.levels[number - 1], self.levels[number]
            start = self._stale[number] // level.width * level.width
            level.truncate(start)
            low, high = finer.between(start, None)
            if low < high:
                coarse = finer.keys[low:high] // level.width * level.width
                first = _starts(coarse)
                level.merge(coarse[first], kind.reduce(finer.columns(low, high), first), kind)
            self._stale[number] = _CURRENT

    def value(self, start_us: int | None, end_us: int | None) -> AggregateValue:
        """The aggregate over the buckets of ``[start, end)``, widened to whole buckets."""
        self._refresh()
        base = self.levels[0]
        if not base.size:
            return self._empty()
        width = self.widths[0]
        keys = base.keys
        # not clipped to the kept keys: an aligned range stays one coarse state
        low = int(keys[0]) if start_us is None else start_us // width * width
        high = int(keys[-1]) + width if end_us is None else -(-end_us // width) * width
        parts: list[Columns] = []
        for level, first, last in spans(low, high, self.widths):
            at, to = self.levels[level].between(first, last)
            if at < to:
                parts.append(self.levels[level].columns(at, to))
        if not parts:
            return self._empty()
        kept = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        if len(kept[next(iter(kept))]) > 1:
            kept = self.kind.reduce(kept, np.zeros(1, dtype=np.int64))
        result: AggregateValue = self.kind.results(kept)[0]
        # a list (FIRST of a LIST, TOP_K) may be a kept state's own: the caller may change it
        return copy.deepcopy(result) if isinstance(result, list) else result

    def window_values(self, starts: list[int], period_us: int) -> list[Any]:
        """The aggregate over each window ``[start, start + period)`` (aligned to the period),
        reduced from the coarsest level whose buckets tile the windows."""
        tiling = [n for n, level in enumerate(self.levels) if period_us % level.width == 0]
        if not tiling or not starts:
            return [self.value(start, start + period_us) for start in starts]
        self._refresh(tiling[-1])  # a 1 s trigger reads 1 s buckets: nothing to reduce
        level = self.levels[tiling[-1]]
        low, high = level.between(starts[0], starts[-1] + period_us)
        if low == high:
            return [self._empty()] * len(starts)
        columns = level.columns(low, high)
        windows = level.keys[low:high] // period_us * period_us
        first = _starts(windows)
        if len(first) < high - low:
            columns = self.kind.reduce(columns, first)
        results = self.kind.results(columns)
        held = windows[first]
        if len(held) == len(starts) and held[0] == starts[0] and held[-1] == starts[-1]:
            return results  # every window holds records (ascending, distinct: the same)
        found = dict(zip(held.tolist(), results, strict=True))
        empty = self._empty()
        return [found.get(start, empty) for start in starts]

    def _empty(self) -> AggregateValue:
        """The value over no records (0 for the counts, else NULL), as the State gives it."""
        nothing: AggregateValue = copy.copy(self._nothing)  # the caller may change a list
        return nothing

    def keys_between(self, start_us: int | None, end_us: int | None) -> np.ndarray:
        """Start times of the finest buckets in ``[start, end)`` that hold records."""
        low, high = self.levels[0].between(start_us, end_us)
        keys: np.ndarray = self.levels[0].keys[low:high]
        return keys

    def drop_before(self, start_us: int) -> None:
        for level in self.levels:
            level.drop_before(start_us)
        # a coarser bucket that straddles start_us was dropped whole: made again when read
        self._changed(start_us)
