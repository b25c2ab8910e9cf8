"""A named aggregate over a filter: partial states per time bucket, at several widths.

States are kept as columns (:mod:`rillet.aggregates.grouped`) per bucket of the aggregate's
resolution and also per second (when the resolution is finer), minute, hour and day, each
level sorted by bucket.  A batch adds its buckets' partials with a few numpy reductions
whatever the number of buckets it spans; the coarser levels are reduced from the finer when
next read.  Any time range is answered from a few slices of the levels (seven for a 1 s
resolution, nine for a finer one): the buckets up to the first whole second, the seconds up
to the first whole minute, the minutes up to the first whole hour, the hours, the days, and
back down.  The buckets and levels are :mod:`rillet.aggregates.buckets`, shared with the
other bucketed states.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates import AGGREGATES, AggregateValue
from rillet.aggregates.buckets import Level, run_starts, spans
from rillet.aggregates.grouped import Columns, kind_of, result_array
from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import compile, evaluate
from rillet.expressions.nodes import Call, Cast, Literal, Node
from rillet.monitors.observed import Observed

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
            coarse.levels[0].fold(fine, self.kind)
            coarse._changed(int(fine.keys[0]))  # the coarser levels are reduced when read
        return coarse

    def observe(self, seen: Observed) -> None:
        """Fold the rows of a batch its filter matches (all without one), from
        ``from_offset`` on, into their buckets."""
        offsets = seen.offsets
        mask = None
        if self.filter_name:
            _, matched = seen.bits(self.filter_name)
            if not matched:
                return
            if matched < len(offsets):  # a filter every row passes leaves out nothing
                mask = seen.mask(self.filter_name)
        if offsets[0] < self.from_offset:
            low = offsets >= self.from_offset
            mask = low if mask is None else mask & low
        if mask is not None and not mask.any():
            return
        buckets = seen.buckets(self.resolution_us)
        values = evaluate(self.argument, seen.ctx) if self.argument is not None else None
        kind = self.kind
        rows, starts, keys = buckets.select(mask)
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
        last = len(self.levels) - 1 if through is None else through
        for number in range(1, last + 1):
            if self._stale[number] == _CURRENT:
                continue
            self.levels[number].fold(self.levels[number - 1], self.kind, self._stale[number])
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
        tiled = self._windows(starts, period_us)
        if tiled is None:
            return [self.value(start, start + period_us) for start in starts]
        columns, held = tiled
        if not len(held):
            return [self._empty()] * len(starts)
        results = self.kind.results(columns)
        if len(held) == len(starts) and held[0] == starts[0] and held[-1] == starts[-1]:
            return results  # every window holds records (ascending, distinct: the same)
        found = dict(zip(held.tolist(), results, strict=True))
        empty = self._empty()
        return [found.get(start, empty) for start in starts]

    def window_array(self, starts: list[int], period_us: int, arrow: pa.DataType) -> pa.Array:
        """:meth:`window_values` as one Arrow array of type ``arrow``, made from the
        buckets' columns without a Python value a window where the function allows."""
        tiled = self._windows(starts, period_us)
        if tiled is None or not len(tiled[1]):
            return _judged(self.window_values(starts, period_us), arrow)
        columns, held = tiled
        try:
            values = result_array(self.kind, columns, arrow)
        except (OverflowError, pa.ArrowInvalid):
            values = _judged(self.kind.results(columns), arrow)
        if len(held) == len(starts) and held[0] == starts[0] and held[-1] == starts[-1]:
            return values
        wanted = np.asarray(starts, dtype=np.int64)
        at = np.minimum(np.searchsorted(held, wanted), len(held) - 1)
        hit = held[at] == wanted
        empty = pa.scalar(self._empty(), type=values.type)
        return pc.if_else(pa.array(hit), values.take(pa.array(at)), empty)

    def _windows(self, starts: list[int], period_us: int) -> tuple[Columns, np.ndarray] | None:
        """The states of the windows of ``period_us`` from ``starts[0]`` to ``starts[-1]``
        that hold records, and their starts (ascending); None when no level tiles them."""
        tiling = [n for n, width in enumerate(self.widths) if period_us % width == 0]
        if not tiling or not starts:
            return None
        self._refresh(tiling[-1])  # a 1 s trigger reads 1 s buckets: nothing to reduce
        level = self.levels[tiling[-1]]
        low, high = level.between(starts[0], starts[-1] + period_us)
        if low == high:
            return {}, level.keys[low:high]
        columns = level.columns(low, high)
        windows = level.keys[low:high] // period_us * period_us
        first = run_starts(windows)
        if len(first) < high - low:
            columns = self.kind.reduce(columns, first)
        return columns, windows[first]

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


def _judged(values: list[Any], arrow: pa.DataType) -> pa.Array:
    """Window values as an Arrow array of type ``arrow``; an integer SUM past int64 (exact
    in Python, a HUGEINT in DuckDB) as DOUBLE instead, so that a trigger still judges it
    rather than failing on every batch from then on."""
    try:
        return pa.array(values, type=arrow)
    except (OverflowError, pa.ArrowInvalid):
        if not pa.types.is_integer(arrow):
            raise
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
