"""Rolling bucketed window aggregation (FlumeBase's ``OVER RANGE INTERVAL w PRECEDING``).

The width ``w`` is cut into ``buckets`` buckets of ``d = w / buckets``; a record at time ``t``
goes to bucket ``t - t mod d``.  The state is one partial aggregate per (bucket, group, call),
kept as the aggregates' mergeable columns (:mod:`rillet.aggregates.grouped`); the window
closing at bucket ``c`` merges the buckets in ``(c - w, c]`` and its rows carry time ``c``.

Which windows close, and which records are late, follows :mod:`rillet.flows.watermark`:
record by record, by event time only.  A batch is taken whole unless a record in it is late
for a window that closes within the same batch; then it is cut before that record, so every
window sees exactly the records that arrived before it closed, however the input was cut
into batches.  A late record still counts in the windows that close after it arrived, as
long as it is within ``max.prior.interval`` of the newest time seen; older ones are dropped.
Both are counted (:class:`Counters`).

Default output: at ``c``, each group with data in bucket ``c`` emits the aggregate over the
trailing window.  ``continuous``: every group with data anywhere in ``(c - w, c]`` emits at
every step ``d``.  End of input closes every window up to the newest bucket seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rillet.aggregates.base import AggregateFunction
from rillet.aggregates.buckets import run_starts
from rillet.aggregates.grouped import Columns, Kind, kind_of
from rillet.datatypes import DataType
from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.flows.config import FlowConfig
from rillet.flows.frames import SEQ, TIME, seqs_of, time_array, times_of
from rillet.flows.keys import KeyEncoder
from rillet.flows.watermark import NEVER, frontiers, previous, running_max

Emit = Callable[[pa.RecordBatch], None]


@dataclass(slots=True)
class Counters:
    """What a flow tells about its input: records late beyond the slack (their own
    window was already out), and those of them dropped (too old for any window)."""

    late: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, late: int, dropped: int) -> None:
        with self.lock:
            self.late += late
            self.dropped += dropped


@dataclass(frozen=True, slots=True)
class Aggregation:
    """One aggregate call of a windowed SELECT: its output column, function, argument."""

    name: str
    function: AggregateFunction
    argument: Kernel | None
    arg_type: DataType | None
    params: tuple[Any, ...]
    type: DataType


@dataclass(frozen=True, slots=True)
class GroupKey:
    """One GROUP BY expression: its column name in the aggregate's output, and kernel."""

    name: str
    kernel: Kernel
    type: DataType


@dataclass(slots=True)
class _Chunk:
    buckets: np.ndarray
    groups: np.ndarray
    states: list[Columns]
    tidy: bool = False  # sorted by (group, bucket), each pair once


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``starts[i], ..., starts[i] + lengths[i] - 1`` for each i, one after another."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    ranges: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return ranges


class WindowAggregate:
    """The operator: takes frames, emits one frame per round of closed windows."""

    def __init__(
        self,
        keys: Sequence[GroupKey],
        calls: Sequence[Aggregation],
        width_us: int,
        config: FlowConfig,
        emit: Emit,
        counters: Counters,
    ) -> None:
        self.keys = list(keys)
        self.calls = list(calls)
        self.step = max(width_us // config.buckets, 1)
        self.width = self.step * config.buckets  # whole buckets
        self.config = config
        self.emit = emit
        self.counters = counters
        self.kinds: list[Kind] = [kind_of(c.function, c.arg_type, c.params) for c in self.calls]
        self.encoder = KeyEncoder([k.type.arrow for k in self.keys])
        self.closed = NEVER  # every window closing at or before this is out
        self.newest = NEVER  # the newest bucket seen
        self.newest_time = NEVER
        self._chunks: list[_Chunk] = []
        self._seq = 0

    # -- input -------------------------------------------------------------------------

    def push(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        times = times_of(batch)
        step = self.step
        buckets = times // step * step
        closed = frontiers(buckets, step, self.config.slack_us, self.closed)
        arrived = previous(closed, self.closed)
        late = buckets <= arrived
        dropped = np.zeros(len(times), dtype=bool)
        if late.any():
            next_close = arrived // step * step + step
            newest_time = running_max(times, self.newest_time)
            too_old = times < newest_time - self.config.max_prior_us
            dropped = late & ((next_close > buckets + self.width - step) | too_old)
            self.counters.add(int(late.sum()), int(dropped.sum()))
        self.newest = max(self.newest, int(buckets.max()))
        self.newest_time = max(self.newest_time, int(times.max()))
        ctx = Context(batch, TIME)
        groups = self.encoder.encode([evaluate(k.kernel, ctx) for k in self.keys])
        if not self.keys:
            groups = np.zeros(len(times), dtype=np.int64)
        values = [evaluate(c.argument, ctx) if c.argument is not None else None for c in self.calls]
        seqs = seqs_of(batch)
        keep = ~dropped
        start = 0
        for j in np.flatnonzero(late & keep).tolist():
            if arrived[j] > self.closed:  # windows closing before record j arrived go first
                self._insert(start, j, keep, buckets, groups, values, seqs)
                self._close(int(arrived[j]))
                start = j
        self._insert(start, len(times), keep, buckets, groups, values, seqs)
        self._close(int(closed[-1]))

    def finish(self) -> None:
        """End of input: every window up to the newest bucket seen closes."""
        if self.newest > NEVER:
            self._close(self.newest)

    def _insert(
        self,
        low: int,
        high: int,
        keep: np.ndarray,
        buckets: np.ndarray,
        groups: np.ndarray,
        values: list[pa.Array | None],
        seqs: np.ndarray,
    ) -> None:
        rows = np.arange(low, high, dtype=np.int64)
        if not keep[low:high].all():
            rows = rows[keep[low:high]]
        if not len(rows):
            return
        size = self.encoder.size
        first = int(buckets[rows].min())
        ids = (buckets[rows] - first) // self.step * size + groups[rows]
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        starts = run_starts(ids)
        positions = rows[order]
        states = [
            kind.partials(v, positions, seqs, starts)
            for kind, v in zip(self.kinds, values, strict=True)
        ]
        distinct = ids[starts]
        self._chunks.append(_Chunk(distinct // size * self.step + first, distinct % size, states))

    # -- output ------------------------------------------------------------------------

    def _state(self) -> _Chunk:
        """The chunks as one, sorted by (group, bucket), each pair once."""
        if len(self._chunks) == 1 and self._chunks[0].tidy:
            return self._chunks[0]
        chunks = self._chunks
        buckets = np.concatenate([c.buckets for c in chunks])
        groups = np.concatenate([c.groups for c in chunks])
        order = np.lexsort((buckets, groups))
        buckets, groups = buckets[order], groups[order]
        pair_starts = _pair_starts(groups, buckets)
        states = []
        for i, kind in enumerate(self.kinds):
            joined = {
                name: np.concatenate([c.states[i][name] for c in chunks])[order]
                for name in chunks[0].states[i]
            }
            if len(pair_starts) < len(order):
                joined = kind.reduce(joined, pair_starts)
            states.append(joined)
        tidy = _Chunk(buckets[pair_starts], groups[pair_starts], states, tidy=True)
        self._chunks = [tidy]
        return tidy

    def _close(self, through: int) -> None:
        """Emit the windows closing in (closed, through], then forget what no later
        window needs."""
        if through <= self.closed:
            return
        before, self.closed = self.closed, through
        if not self._chunks:
            return
        state = self._state()
        pairs = self._pairs(state, before, through)
        if pairs is not None:
            self._emit(state, *pairs)
        keep = state.buckets > through - self.width
        if not keep.all():
            kept = [{k: v[keep] for k, v in s.items()} for s in state.states]
            state = _Chunk(state.buckets[keep], state.groups[keep], kept, tidy=True)
            self._chunks = [state] if len(state.buckets) else []

    def _pairs(
        self, state: _Chunk, before: int, through: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The (closing time, group) of every output row, by time then group."""
        b, g = state.buckets, state.groups
        if not self.config.continuous:
            chosen = (b > before) & (b <= through)
            if not chosen.any():
                return None
            closes, groups = b[chosen], g[chosen]
        else:
            step = self.step
            # each state row is in the windows closing at b, b + step, ... b + width - step
            low = np.maximum(b, before // step * step + step)
            high = np.minimum(b + self.width - step, through // step * step)
            counts = np.maximum((high - low) // step + 1, 0)
            if not counts.any():
                return None
            closes = np.repeat(low, counts) + _within(counts) * step
            groups = np.repeat(g, counts)
            combined = np.unique(np.stack([closes, groups], axis=1), axis=0)
            closes, groups = combined[:, 0], combined[:, 1]
        order = np.lexsort((groups, closes))
        return closes[order], groups[order]

    def _emit(self, state: _Chunk, closes: np.ndarray, groups: np.ndarray) -> None:
        distinct = np.unique(state.buckets)
        rank = np.searchsorted(distinct, state.buckets)
        span = len(distinct)
        key = state.groups * span + rank  # ascending: the state is sorted by (group, bucket)
        low = groups * span + np.searchsorted(distinct, closes - self.width, side="right")
        high = groups * span + np.searchsorted(distinct, closes, side="right")
        first = np.searchsorted(key, low, side="left")
        last = np.searchsorted(key, high, side="left")
        lengths = last - first
        rows = _ranges(first, lengths)
        starts = np.cumsum(lengths) - lengths
        columns: dict[str, pa.Array] = {}
        for key_spec, values in zip(self.keys, self.encoder.values(groups), strict=True):
            columns[key_spec.name] = values
        for call, kind, kept in zip(self.calls, self.kinds, state.states, strict=True):
            gathered = {name: column[rows] for name, column in kept.items()}
            if len(starts) < len(rows):
                gathered = kind.reduce(gathered, starts)
            columns[call.name] = results_array(kind, gathered, call.type)
        count = len(closes)
        seqs = pa.array(np.arange(self._seq, self._seq + count, dtype=np.int64))
        self._seq += count
        names = [*columns, TIME, SEQ]
        self.emit(pa.record_batch([*columns.values(), time_array(closes), seqs], names=names))


def _pair_starts(groups: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The first row of each run of equal (group, bucket) in rows sorted by them."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    change = (groups[1:] != groups[:-1]) | (buckets[1:] != buckets[:-1])
    starts: np.ndarray = np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1])
    return starts


def _within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... counts[i] - 1 for each i, one after another."""
    return _ranges(np.zeros(len(counts), dtype=np.int64), counts)


def results_array(kind: Kind, columns: Columns, dtype: DataType) -> pa.Array:
    """The aggregate's values of each row of ``columns`` as an Arrow array of ``dtype``."""
    return pa.array(kind.results(columns), type=dtype.arrow)
