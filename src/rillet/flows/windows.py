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
import pyarrow.compute as pc

from rillet.aggregates.base import AggregateFunction
from rillet.aggregates.buckets import run_starts
from rillet.aggregates.grouped import (
    Columns,
    CountKind,
    ExtremeKind,
    Kind,
    SumKind,
    batch_states,
    kind_of,
    result_array,
    states_batch,
)
from rillet.datatypes import FLOAT_MAX, DataType
from rillet.errors import FlowError
from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.flows.config import FlowConfig
from rillet.flows.frames import SEQ, TIME, seqs_of, time_array, times_of
from rillet.flows.keys import KeyEncoder, key_table
from rillet.flows.watermark import NEVER, frontiers, previous, running_max

Emit = Callable[[pa.RecordBatch], None]


@dataclass(slots=True)
class Counters:
    """What a flow tells about its input: records late beyond the slack (their own
    window was already out), and those of them dropped (too old for any window)."""

    late: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: called with the late records (rows of the window's input) of TUMBLE, HOP and SESSION
    #: windows: a named flow keeps them in ``<name>.late``
    on_late: Callable[[pa.RecordBatch], None] | None = field(default=None, repr=False)

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
    """One GROUP BY expression: its column name in the aggregate's output, and kernel;
    ``column`` names the input column when the expression is that column alone."""

    name: str
    kernel: Kernel
    type: DataType
    column: str | None = None


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

    def advance(self, now_us: int) -> None:
        """Close what an event at ``now_us`` would close (the input is stamped with its
        arrival time, so nothing older than that is to come but within the slack)."""
        self._close(now_us // self.step * self.step - self.config.slack_us - self.step)

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
        kept = keep[low:high]
        if kept.all():  # the usual case: slices, not copies
            rows = None
            times, keys = buckets[low:high], groups[low:high]
        else:
            rows = np.flatnonzero(kept) + low
            times, keys = buckets[rows], groups[rows]
        if not len(times):
            return
        first = int(times.min())
        slots = (int(times.max()) - first) // self.step + 1
        # by group, then bucket: the order the state keeps, so merging them is cheap
        slot = (times - first) // self.step
        ids = keys * slots + slot
        order = _order_by(keys, slot)
        ids = ids[order]
        starts = run_starts(ids)
        positions = order + low if rows is None else rows[order]
        states = [
            kind.partials(v, positions, seqs, starts)
            for kind, v in zip(self.kinds, values, strict=True)
        ]
        distinct = ids[starts]
        self._chunks.append(
            _Chunk(distinct % slots * self.step + first, distinct // slots, states, tidy=True)
        )

    # -- checkpoints -------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, int], dict[str, pa.RecordBatch]]:
        """The operator's state, for a named flow's checkpoint: its clocks and counts, and
        as tables the group keys it numbered ("keys", in the order of their numbers) and
        its buckets' partial states ("state", a row a bucket and group); read back by
        :meth:`load`."""
        scalars = {
            "closed": self.closed,
            "newest": self.newest,
            "newest_time": self.newest_time,
            "seq": self._seq,
        }
        tables: dict[str, pa.RecordBatch] = {}
        if self.keys:
            tables["keys"] = key_table(self.encoder)
        if self._chunks:
            state = self._state()
            leading = {"bucket": state.buckets, "group": state.groups}
            args = [call.arg_type for call in self.calls]
            tables["state"] = states_batch(leading, self.kinds, args, state.states)
        return scalars, tables

    def load(self, scalars: dict[str, int], tables: dict[str, pa.RecordBatch]) -> None:
        """Take the state :meth:`dump` gave (before any record is pushed)."""
        if "keys" in tables:
            self.encoder.learn(tables["keys"].columns)
        self.closed = int(scalars["closed"])
        self.newest = int(scalars["newest"])
        self.newest_time = int(scalars["newest_time"])
        self._seq = int(scalars["seq"])
        self._chunks = []
        state = tables.get("state")
        if state is not None and state.num_rows:
            (buckets, groups), states = batch_states(state, ("bucket", "group"), self.kinds)
            self._chunks = [_Chunk(buckets, groups, states, tidy=True)]

    # -- output ------------------------------------------------------------------------

    def _state(self) -> _Chunk:
        """The chunks as one, sorted by (group, bucket), each pair once."""
        if len(self._chunks) == 1 and self._chunks[0].tidy:
            return self._chunks[0]
        chunks = self._chunks
        buckets = np.concatenate([c.buckets for c in chunks])
        groups = np.concatenate([c.groups for c in chunks])
        low = int(buckets.min())
        slots = (int(buckets.max()) - low) // self.step + 1
        if (int(groups.max()) + 1) * slots < 2**62:
            # each chunk is sorted already: timsort (numpy's stable sort of int64) merges runs
            order = np.argsort(groups * slots + (buckets - low) // self.step, kind="stable")
        else:
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
            self._emit(state, pairs)
        keep = state.buckets > through - self.width
        if not keep.all():
            kept = [{k: v[keep] for k, v in s.items()} for s in state.states]
            state = _Chunk(state.buckets[keep], state.groups[keep], kept, tidy=True)
            self._chunks = [state] if len(state.buckets) else []

    def _pairs(self, state: _Chunk, before: int, through: int) -> _Pairs | None:
        """Every output row: its closing time and group, and the range of state rows its
        window merges; by time, then group."""
        b, g = state.buckets, state.groups
        step = self.step
        code, at = _codes(state, step)
        if not self.config.continuous:
            rows = np.flatnonzero((b > before) & (b <= through))
            if not len(rows):
                return None
            closes, groups = b[rows], g[rows]
            last = rows + 1  # the row of the closing bucket itself ends the window
        else:
            # each state row is in the windows closing at b, b + step, ... b + width - step
            low = np.maximum(b, before // step * step + step)
            high = np.minimum(b + self.width - step, through // step * step)
            counts = np.maximum((high - low) // step + 1, 0)
            if not counts.any():
                return None
            closes = np.repeat(low, counts) + _within(counts) * step
            groups = np.repeat(g, counts)
            if self.config.buckets > 1:  # a group in several buckets of a window: once
                origin = int(closes.min())
                slots = (int(closes.max()) - origin) // step + 1
                pairs = np.unique(groups * slots + (closes - origin) // step)
                groups, closes = pairs // slots, pairs % slots * step + origin
            last = np.searchsorted(code, at(groups, closes, "right"))
        first = np.searchsorted(code, at(groups, closes - self.width, "right"))
        order = _order_by((closes - closes.min()) // step, groups)
        return _Pairs(closes[order], groups[order], first[order], last[order])

    def _emit(self, state: _Chunk, pairs: _Pairs) -> None:
        columns: dict[str, pa.Array] = {}
        for key_spec, values in zip(self.keys, self.encoder.values(pairs.groups), strict=True):
            columns[key_spec.name] = values
        for call, kind, kept in zip(self.calls, self.kinds, state.states, strict=True):
            merged = window_reduce(kind, kept, pairs.first, pairs.last)
            columns[call.name] = results_array(kind, merged, call)
        count = len(pairs.closes)
        seqs = pa.array(np.arange(self._seq, self._seq + count, dtype=np.int64))
        self._seq += count
        names = [*columns, TIME, SEQ]
        times = time_array(pairs.closes)
        self.emit(pa.record_batch([*columns.values(), times, seqs], names=names))


@dataclass(frozen=True, slots=True)
class _Pairs:
    closes: np.ndarray
    groups: np.ndarray
    first: np.ndarray
    last: np.ndarray


Locate = Callable[[np.ndarray, np.ndarray, str], np.ndarray]


def _codes(state: _Chunk, step: int) -> tuple[np.ndarray, Locate]:
    """The state rows as ascending codes of (group, bucket), and how to make the code of
    a (group, time) to search for: times after the time's bucket (``side`` "right") or
    from it on ("left")."""
    buckets, groups = state.buckets, state.groups
    low = int(buckets.min())
    slots = (int(buckets.max()) - low) // step + 1
    if (int(groups.max()) + 1) * slots < 2**62:
        code = groups * slots + (buckets - low) // step

        def offset(g: np.ndarray, t: np.ndarray, side: str) -> np.ndarray:
            slot = -(-(t - low) // step) if side == "left" else (t - low) // step + 1
            position = np.clip(slot, 0, slots)
            found: np.ndarray = g * slots + position
            return found

        return code, offset
    distinct = np.unique(buckets)  # a huge gap in time: the buckets' ranks instead
    slots = len(distinct)
    code = groups * slots + np.searchsorted(distinct, buckets)

    def ranked(g: np.ndarray, t: np.ndarray, side: str) -> np.ndarray:
        after = side == "right"
        found: np.ndarray = g * slots + np.searchsorted(
            distinct, t, side="right" if after else "left"
        )
        return found

    return code, ranked


def window_reduce(kind: Kind, columns: Columns, first: np.ndarray, last: np.ndarray) -> Columns:
    """Each range ``[first[i], last[i])`` of rows of ``columns`` (none empty) merged into
    one, as ``kind.reduce`` merges them.

    A rolling window merges up to ``buckets`` rows a group and step; sums of integers (every
    column of COUNT, of SUM of integers, the counts of MIN and MAX) are differences of
    running sums instead, and MIN and MAX take the extreme of two overlapping power-of-two
    spans of a sparse table: a few operations a window, however many buckets it has.
    Other kinds (and float sums, which a difference of running sums would round) merge the
    gathered rows.
    """
    if isinstance(kind, CountKind) or (isinstance(kind, SumKind) and kind.integer):
        return {name: _range_sums(column, first, last) for name, column in columns.items()}
    if isinstance(kind, ExtremeKind):
        n = columns["n"]
        values = np.where(n > 0, columns["v"], kind.identity)
        return {
            "n": _range_sums(n, first, last),
            "v": _range_extremes(values, first, last, kind.ufunc),
        }
    lengths = last - first
    rows = _ranges(first, lengths)
    gathered = {name: column[rows] for name, column in columns.items()}
    if len(rows) == len(first):
        return gathered
    return kind.reduce(gathered, np.cumsum(lengths) - lengths)


def _range_sums(column: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    running = np.concatenate([np.zeros(1, dtype=column.dtype), np.cumsum(column)])
    sums: np.ndarray = running[last] - running[first]
    return sums


def _range_extremes(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, ufunc: np.ufunc
) -> np.ndarray:
    lengths = last - first
    levels = [values]
    span = 1
    while span * 2 <= int(lengths.max(initial=1)):
        below = levels[-1]
        levels.append(ufunc(below[:-span], below[span:]))
        span *= 2
    level = np.frexp(lengths)[1].astype(np.int64) - 1  # floor(log2(length))
    found = np.empty(len(first), dtype=values.dtype)
    for k in np.unique(level).tolist():
        at = level == k
        table = levels[k]
        found[at] = ufunc(table[first[at]], table[last[at] - (1 << k)])
    return found


def _pair_starts(groups: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The first row of each run of equal (group, bucket) in rows sorted by them."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    change = (groups[1:] != groups[:-1]) | (buckets[1:] != buckets[:-1])
    starts: np.ndarray = np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1])
    return starts


def _order_by(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """The stable order of rows by ``major`` then ``minor`` (non-negative integers).

    numpy sorts 16-bit integers by radix, in linear time: where both fit, that is a sort by
    ``minor`` (skipped when it is in order already, as times nearly always are) and then one
    by ``major``."""
    if len(major) and int(major.max()) < 2**16 and int(minor.max()) < 2**16:
        if (minor[1:] >= minor[:-1]).all():
            order: np.ndarray = np.argsort(major.astype(np.uint16), kind="stable")
            return order
        first = np.argsort(minor.astype(np.uint16), kind="stable")
        then: np.ndarray = first[np.argsort(major[first].astype(np.uint16), kind="stable")]
        return then
    return np.lexsort((minor, major))


def _within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... counts[i] - 1 for each i, one after another."""
    return _ranges(np.zeros(len(counts), dtype=np.int64), counts)


def results_array(kind: Kind, columns: Columns, call: Aggregation) -> pa.Array:
    """The values of aggregate ``call`` of each row of ``columns`` as an Arrow array of
    its type (:func:`~rillet.aggregates.grouped.result_array`); FlowError naming the
    aggregate when one does not fit its type (a SUM of INT past 2**31, of BIGINT past
    2**63)."""
    try:
        if call.type.name != "FLOAT":
            return result_array(kind, columns, call.type.arrow)
        # a float32 cast makes a double past its range infinite, silently
        doubles = result_array(kind, columns, pa.float64())
        past = pc.and_(pc.is_finite(doubles), pc.greater(pc.abs(doubles), FLOAT_MAX))
        if pc.any(past).as_py():
            raise OverflowError(f"{pc.max(pc.abs(doubles.filter(past)))} is past {FLOAT_MAX}")
        return doubles.cast(call.type.arrow)
    except (pa.ArrowInvalid, OverflowError) as exc:
        raise FlowError(
            f"{call.function.name.upper()}: a window's result overflows its type "
            f"{call.type} ({exc})"
        ) from None
