"""TUMBLE, HOP and SESSION windows over event time, closed by a watermark.

A HOP window of ``size`` starts every ``slide``: a record at ``t`` is in the ``size / slide``
windows ``[s, s + size)`` with ``s`` a multiple of ``slide`` and ``t - size < s <= t``; a
TUMBLE is a HOP whose slide is its size.  A SESSION of a group is a run of its records each
less than ``gap`` after the one before; it is the window ``[first, last + gap)``.

The watermark is the greatest event time seen minus ``lateness`` (or the wall clock, once
the input has been idle for ``idle_timeout``).  A window is emitted once, when the
watermark reaches its end, or at end of input.  Everything is decided record by record from
the records' order alone, whatever batches they came in:

- a TUMBLE/HOP record counts in each of its windows that was not out when it arrived; it is
  *late* if one of them was out, and *dropped* if all were;
- a SESSION record is late (and dropped) if it is behind the watermark when it arrives: the
  sessions it could join may be out already.  (No session still open can end before the
  watermark, so a record at or after it never joins one that is out.)

Late records are counted (:class:`~rillet.flows.windows.Counters`) and handed, as rows of
the operator's input, to ``Counters.on_late`` when set (a named flow keeps them).

The state is one partial aggregate per (window, group) and call, as the aggregates'
mergeable columns (:mod:`rillet.aggregates.grouped`); sketch calls give their results or,
with ``sketch_state``, their DataSketches serialized state (BINARY).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.grouped import (
    Columns,
    Kind,
    KllKind,
    ObjectKind,
    _gather,
    batch_states,
    kind_of,
    states_batch,
)
from rillet.aggregates.kll_bytes import HELD, ascending_rows, built_states, exact_states
from rillet.batches import decoded
from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.flows.config import FlowConfig
from rillet.flows.frames import KEPT, SEQ, TIME, seqs_of, time_array
from rillet.flows.keys import KeyEncoder, key_table
from rillet.flows.watermark import NEVER, running_max
from rillet.flows.windows import Aggregation, Counters, GroupKey, results_array

Emit = Callable[[pa.RecordBatch], None]
START = "__wstart"
END = "__wend"
_ALWAYS = 2**62  # a watermark past every time: end of input
_PILE = 64  # chunks of state kept apart before they are merged while no window closes
_PAIRS = 1 << 22  # the most (record, window) pairs a HOP makes at once: a batch is cut to fit

#: the functions whose state is a sketch (output as bytes with ``sketch_state``)
SKETCHES = frozenset(
    {
        "approx_count_distinct",
        "approx_quantile",
        "distribution",
        "top_k",
        "kll_merge_quantile",
        "hll_merge_count",
        "top_k_merge_items",
    }
)
#: the functions whose result is a KLL state (BINARY: its bytes)
_KLL_STATES = frozenset({"distribution", "kll_merge"})


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """Which windows: ``kind`` is "tumble", "hop" or "session"; times in microseconds
    (``size`` and ``slide`` for TUMBLE and HOP, ``gap`` for SESSION).

    Examples:
        >>> WindowSpec("hop", size=60_000_000, slide=10_000_000).per_record
        6
    """

    kind: str
    size: int = 0
    slide: int = 0
    gap: int = 0

    @property
    def per_record(self) -> int:
        """How many windows each record is in (TUMBLE and HOP)."""
        return self.size // self.slide if self.slide else 1


@dataclass(slots=True)
class _Chunk:
    starts: np.ndarray  # window start (TUMBLE, HOP) or first time (SESSION)
    ends: np.ndarray  # window end (TUMBLE, HOP) or last time (SESSION)
    groups: np.ndarray
    states: list[Columns]


def _concat(chunks: list[_Chunk]) -> _Chunk:
    if len(chunks) == 1:
        return chunks[0]
    states = [
        {name: np.concatenate([c.states[i][name] for c in chunks]) for name in chunks[0].states[i]}
        for i in range(len(chunks[0].states))
    ]
    return _Chunk(
        np.concatenate([c.starts for c in chunks]),
        np.concatenate([c.ends for c in chunks]),
        np.concatenate([c.groups for c in chunks]),
        states,
    )


def _take(chunk: _Chunk, rows: np.ndarray) -> _Chunk:
    return _Chunk(
        chunk.starts[rows],
        chunk.ends[rows],
        chunk.groups[rows],
        [{k: v[rows] for k, v in s.items()} for s in chunk.states],
    )


class EventWindows:
    """The operator: takes frames, emits one frame per round of closed windows, each row
    a group's window with its keys, its aggregates, ``__wstart`` and ``__wend`` (also its
    time).  Frames may hold dictionary-encoded text (a named flow's catch-up from sealed
    files): a group key column is numbered by its dictionary, expressions see values."""

    def __init__(
        self,
        keys: Sequence[GroupKey],
        calls: Sequence[Aggregation],
        spec: WindowSpec,
        time: Kernel,
        config: FlowConfig,
        emit: Emit,
        counters: Counters,
        arrival_time: bool = False,
    ) -> None:
        self.keys = list(keys)
        self.calls = list(calls)
        self.spec = spec
        self.time = time
        self.lateness = config.lateness_us
        self.idle_timeout = config.idle_timeout_us
        self.sketch_state = config.sketch_state
        self.arrival_time = arrival_time  # event time is the clock: ticks move it
        self.emit = emit
        self.counters = counters
        # a window's group keeps up to HELD values as they are: its state is made of them,
        # the same bytes however the records were cut into batches (a replay's)
        self.kinds: list[Kind] = [
            kind_of(c.function, c.arg_type, c.params, HELD) for c in self.calls
        ]
        self.encoder = KeyEncoder([k.type.arrow for k in self.keys])
        self.newest = NEVER  # the greatest event time seen
        self.watermark = NEVER
        self._chunks: list[_Chunk] = []
        self._seq = 0
        self._pushed = False
        self._quiet_since: int | None = None
        #: a named flow's idle advances, to replay: (input offset, watermark), in order;
        #: the watermark moves before the first record at or after the offset is counted
        self.marks: list[tuple[int, int]] = []
        #: a named flow keeps each idle advance (offset, watermark) before anything depends
        #: on it: before a record counts after it, before a window it closes is out
        self.on_idle: Callable[[int, int], None] | None = None
        self._next_seq = 0  # one past the greatest input offset pushed
        self._unsaved: tuple[int, int] | None = None
        #: a refreshed named flow's stored history goes by event time: each batch is taken
        #: in the order of the windows' own time (then offset), whatever column that is
        self.by_time = False
        #: a WHERE before them marks the rows it leaves out (KEPT) rather than dropping them
        self.marked = False

    # -- input -------------------------------------------------------------------------

    def push(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self._save_idle()  # these records arrived after that advance
        while self.marks:  # a replay: the idle advances where a live run made them
            at, watermark = self.marks[0]
            later = np.flatnonzero(seqs_of(batch) >= at)
            if not len(later):
                break
            cut = int(later[0])
            if cut:
                self._push(batch.slice(0, cut))
            self.marks.pop(0)
            self._advance(watermark)
            batch = batch.slice(cut)
        if batch.num_rows:
            self._push(batch)

    def history_read(self) -> None:
        """A replay's stored input was all pushed: the idle advances kept at or before the
        next offset go now, as the run it repeats made them with no record after (a
        refreshed flow's windows that the idle input had closed close again)."""
        while self.marks and self.marks[0][0] <= self._next_seq:
            self._advance(self.marks.pop(0)[1])

    def _push(self, batch: pa.RecordBatch) -> None:
        if self.by_time:
            stamps = evaluate(self.time, Context(batch, TIME)).cast(pa.int64())
            keys = pa.table({"t": stamps, "s": batch.column(SEQ)})
            batch = batch.take(pc.sort_indices(keys, [("t", "ascending"), ("s", "ascending")]))
        # a record is decided alone, in order: a batch's pieces do what it does, and a HOP
        # of many windows a record (1 hour every second) holds a few million pairs at most
        rows = max(1, _PAIRS // self.spec.per_record)
        for start in range(0, batch.num_rows, rows):
            self._push_rows(batch.slice(start, rows))

    def _push_rows(self, batch: pa.RecordBatch) -> None:
        self._pushed = True
        kept: np.ndarray | None = None
        if self.marked and KEPT in batch.schema.names:  # a WHERE's rows out: seen, in none
            kept = batch.column(KEPT).to_numpy(zero_copy_only=False)
            batch = batch.drop_columns([KEPT])
        stamps = evaluate(self.time, Context(batch, TIME))
        valid = np.ones(batch.num_rows, dtype=bool)
        timeless = bool(stamps.null_count)
        if timeless:  # no time, no window: dropped and counted
            valid = stamps.is_valid().to_numpy(zero_copy_only=False)
            stamps = pc.fill_null(stamps.cast(pa.int64()), 0)
        times: np.ndarray = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
        seqs = seqs_of(batch)
        self._next_seq = max(self._next_seq, int(seqs.max()) + 1)
        session = self.spec.kind == "session"
        slide, size = self.spec.slide, self.spec.size
        index = times if session else times // slide  # each record's last window, by number
        arrived: np.ndarray | None = None  # None: no record is late
        if session or timeless or not self._in_time(index, times):
            arrived = self._arrived(times, valid, timeless)
        if arrived is None:  # in time order
            self.newest = max(self.newest, int(times[-1]))
        elif valid.any():
            self.newest = max(self.newest, int((times[valid] if timeless else times).max()))
        if kept is not None and not kept.all():
            rows = np.flatnonzero(kept)
            if not len(rows):
                self._advance(self.newest - self.lateness)
                return
            batch = batch.take(pa.array(rows))
            times, valid, seqs, index = times[rows], valid[rows], seqs[rows], index[rows]
            arrived = arrived[rows] if arrived is not None else None
        dropped: np.ndarray | None = None
        if session:
            assert arrived is not None
            late = valid & (times < arrived)
            dropped = late | ~valid
            self._late(batch, late, dropped, valid, timeless)
        elif arrived is not None:
            base = index * slide  # a record's last window's start
            late = base + slide <= arrived  # its first window was out
            dropped = base + size <= arrived  # all of them were
            if timeless:
                late &= valid
                dropped = (dropped & valid) | ~valid
            self._late(batch, late, dropped, valid, timeless)
        ctx = Context(batch, TIME)
        ctx_values = [
            evaluate(c.argument, ctx) if c.argument is not None else None for c in self.calls
        ]
        groups = (
            # a key column as it came (dictionary-encoded text is numbered by its dictionary)
            self.encoder.encode(
                [batch[k.column] if k.column else evaluate(k.kernel, ctx) for k in self.keys]
            )
            if self.keys
            else np.zeros(len(times), dtype=np.int64)
        )
        if session:
            assert dropped is not None
            rows = np.flatnonzero(~dropped)
            if len(rows):
                self._sessions(rows, times, groups, ctx_values, seqs)
        else:
            self._hops(index, arrived, dropped, groups, ctx_values, seqs)
        self._advance(self.newest - self.lateness)

    def _in_time(self, index: np.ndarray, times: np.ndarray) -> bool:
        """Whether no record of a batch (every one with a time) is late: the usual batch,
        in time order, whose first record's first window was not out.  (Each later one
        arrives to a watermark behind its own time, so before the end of its windows.)"""
        first_end = (int(index[0]) + 1) * self.spec.slide  # the first record's first window
        watermark = max(self.newest - self.lateness, self.watermark)  # it arrives to
        return first_end > watermark and bool((times[1:] >= times[:-1]).all())

    def _arrived(self, times: np.ndarray, valid: np.ndarray, timeless: bool) -> np.ndarray:
        """The watermark each record arrived to: record by record, not batch by batch."""
        seen = np.where(valid, times, NEVER) if timeless else times
        arrived: np.ndarray = np.maximum(
            running_max(seen, self.newest) - self.lateness, self.watermark
        )
        return arrived

    def _late(
        self,
        batch: pa.RecordBatch,
        late: np.ndarray,
        dropped: np.ndarray,
        valid: np.ndarray,
        timeless: bool,
    ) -> None:
        """Count the late records and the dropped ones, and hand the late ones over."""
        if timeless or late.any():
            self.counters.add(int(late.sum()), int(dropped.sum()))  # a record of no time too
            hook = self.counters.on_late
            if hook is not None and late.any():
                hook(decoded(batch.filter(pa.array(late))))

    def _hops(
        self,
        index: np.ndarray,
        arrived: np.ndarray | None,
        dropped: np.ndarray | None,
        groups: np.ndarray,
        values: list[pa.Array | None],
        seqs: np.ndarray,
    ) -> None:
        """The records not dropped, each in its windows not yet out: ``index`` numbers each
        record's last window (its start over the slide); ``arrived`` is None when no
        record is late."""
        slide, size, per = self.spec.slide, self.spec.size, self.spec.per_record
        rows = None  # every record
        if dropped is not None and dropped.any():
            rows = np.flatnonzero(~dropped)
            if not len(rows):
                return
            index = index[rows]
        if per > 1:  # every (record, window) pair whose window was not out yet
            rows = np.repeat(np.arange(len(index)) if rows is None else rows, per)
            index = np.repeat(index, per) - np.tile(np.arange(per), len(index))
            if arrived is not None:
                ok = index * slide + size > arrived[rows]
                rows, index = rows[ok], index[ok]
        self._add(rows, index, groups, values, seqs)

    def _add(
        self,
        rows: np.ndarray | None,
        index: np.ndarray,
        groups: np.ndarray,
        values: list[pa.Array | None],
        seqs: np.ndarray,
    ) -> None:
        """Partial states of the records ``rows`` (None: all), each for the window numbered
        ``index`` (its start over the slide)."""
        if not len(index):
            return
        keys = groups if rows is None else groups[rows]
        low = int(index.min())
        windows = index - low
        width = int(keys.max()) + 1
        span = (int(windows.max()) + 1) * width
        if span < 2**62:  # one integer sorts faster than two
            code = windows * width + keys
            # numpy sorts 16-bit integers by radix, in linear time (7x faster here)
            order = np.argsort(code.astype(np.uint16) if span <= 2**16 else code, kind="stable")
            code = np.take(code, order)
            change = code[1:] != code[:-1]
        else:
            order = np.lexsort((keys, windows))
            change = (windows[order[1:]] != windows[order[:-1]]) | (
                keys[order[1:]] != keys[order[:-1]]
            )
        runs = np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1])
        first = order[runs]  # a run's first: its window, group
        rows = order if rows is None else np.take(rows, order)
        states = [
            kind.partials(v, rows, seqs, runs) for kind, v in zip(self.kinds, values, strict=True)
        ]
        began = (windows[first] + low) * self.spec.slide
        self._chunks.append(_Chunk(began, began + self.spec.size, keys[first], states))

    def _sessions(
        self,
        rows: np.ndarray,
        times: np.ndarray,
        groups: np.ndarray,
        values: list[pa.Array | None],
        seqs: np.ndarray,
    ) -> None:
        """The batch's kept records as sessions of their own, added to the state (merged
        with the open ones when the windows next close)."""
        keys, at = groups[rows], times[rows]
        order = np.lexsort((at, keys))
        rows, keys, at = rows[order], keys[order], at[order]
        runs = _session_runs(keys, at, at, self.spec.gap)
        ends = np.maximum.reduceat(at, runs)
        states = [
            kind.partials(v, rows, seqs, runs) for kind, v in zip(self.kinds, values, strict=True)
        ]
        self._chunks.append(_Chunk(at[runs], ends, keys[runs], states))

    def tick(self, now_us: int) -> None:
        """The clock reads ``now_us``: an input stamped with its arrival time has reached
        it; an input idle for ``idle_timeout`` moves its watermark to it."""
        if self.arrival_time:
            self._advance(now_us - self.lateness)
        if self.idle_timeout <= 0:
            return
        if self._pushed or self._quiet_since is None:
            self._pushed = False
            self._quiet_since = now_us
        elif now_us - self._quiet_since >= self.idle_timeout:
            if self.on_idle is not None and now_us > self.watermark:
                self._unsaved = (self._next_seq, now_us)
                gap = self.spec.gap if self.spec.kind == "session" else 0
                ends = [int(c.ends.min()) for c in self._chunks if len(c.ends)]
                if ends and min(ends) + gap <= now_us:  # it closes windows: kept first
                    self._save_idle()
            self._advance(now_us)

    def _save_idle(self) -> None:
        """Hand the last idle advance to ``on_idle`` (once), if one is not handed yet."""
        if self._unsaved is not None and self.on_idle is not None:
            self.on_idle(*self._unsaved)
        self._unsaved = None

    def finish(self) -> None:
        """End of input: every window still open is emitted."""
        self._advance(_ALWAYS)

    # -- checkpoints -------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, int], dict[str, pa.RecordBatch]]:
        """The operator's state, for a named flow's checkpoint: its clocks and counts, and
        as tables the group keys it numbered ("keys", a row each in the order of their
        numbers: a restored run numbers them alike, so it emits a round's rows in the same
        order) and its open windows ("state", a row a window and group); read back by
        :meth:`load`."""
        self._save_idle()  # the watermark kept includes every idle advance
        scalars = {
            "newest": self.newest,
            "watermark": self.watermark,
            "seq": self._seq,
            "next_seq": self._next_seq,
        }
        tables: dict[str, pa.RecordBatch] = {}
        if self.keys:
            tables["keys"] = key_table(self.encoder)
        if self._chunks:
            chunk = self._merged()
            leading = {START: chunk.starts, END: chunk.ends, "group": chunk.groups}
            args = [call.arg_type for call in self.calls]
            tables["state"] = states_batch(leading, self.kinds, args, chunk.states)
        return scalars, tables

    def load(self, scalars: dict[str, int], tables: dict[str, pa.RecordBatch]) -> None:
        """Take the state :meth:`dump` gave (before any record is pushed)."""
        if "keys" in tables:
            self.encoder.learn(tables["keys"].columns)
        self.newest = int(scalars["newest"])
        self.watermark = int(scalars["watermark"])
        self._seq = int(scalars["seq"])
        self._next_seq = int(scalars["next_seq"])
        self._chunks = []
        state = tables.get("state")
        if state is not None and state.num_rows:
            (starts, ends, groups), states = batch_states(state, (START, END, "group"), self.kinds)
            self._chunks = [_Chunk(starts, ends, groups, states)]

    # -- output ------------------------------------------------------------------------

    def _advance(self, watermark: int) -> None:
        """Move the watermark to ``watermark`` (never back) and emit what it closes."""
        if watermark > self.watermark:
            self.watermark = watermark
        if not self._chunks:
            return
        # merging the state costs a reduce of every sketch: done only when a window closes
        # (merging only ever moves a window's end later, so the least end of the chunks is
        # a bound), or when the chunks pile up
        gap = self.spec.gap if self.spec.kind == "session" else 0
        least = min((int(c.ends.min()) for c in self._chunks if len(c.ends)), default=_ALWAYS)
        if least + gap > self.watermark:
            if len(self._chunks) > _PILE:
                self._merged()
            return
        if self.spec.kind != "session":
            # a TUMBLE/HOP window's end is known before merging: only the closing rows are
            # merged, so the values of a window still open are not gathered again and again
            closing: list[_Chunk] = []
            still: list[_Chunk] = []
            for chunk in self._chunks:
                done = chunk.ends <= self.watermark
                if done.all():
                    closing.append(chunk)
                elif done.any():
                    closing.append(_take(chunk, np.flatnonzero(done)))
                    still.append(_take(chunk, np.flatnonzero(~done)))
                else:
                    still.append(chunk)
            if closing:
                self._chunks = still
                out = self._merge(closing)
                self._emit(out, out.ends)
            return
        state = self._merged()
        ends = state.ends + self.spec.gap
        done = ends <= self.watermark
        if not done.any():
            return
        out = _take(state, np.flatnonzero(done))
        rest = np.flatnonzero(~done)
        self._chunks = [_take(state, rest)] if len(rest) else []
        self._emit(out, ends[done])

    def _merged(self) -> _Chunk:
        """The state as one chunk, one row per window and group (kept as the state)."""
        merged = self._merge(self._chunks)
        self._chunks = [merged]
        return merged

    def _merge(self, chunks: list[_Chunk]) -> _Chunk:
        """``chunks`` as one, one row per window and group."""
        chunk = _concat(chunks)
        if self.spec.kind == "session":
            order = np.lexsort((chunk.starts, chunk.groups))
            chunk = _take(chunk, order)
            runs = _session_runs(chunk.groups, chunk.starts, chunk.ends, self.spec.gap)
            ends = np.maximum.reduceat(chunk.ends, runs)
        else:
            if len(chunks) == 1:
                return chunk
            order = np.lexsort((chunk.groups, chunk.starts))
            chunk = _take(chunk, order)
            change = (chunk.starts[1:] != chunk.starts[:-1]) | (
                chunk.groups[1:] != chunk.groups[:-1]
            )
            runs = np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1])
            ends = chunk.ends[runs]
        if len(runs) < len(chunk.starts):
            states = [
                kind.reduce(s, runs) for kind, s in zip(self.kinds, chunk.states, strict=True)
            ]
        else:
            states = chunk.states
        return _Chunk(chunk.starts[runs], ends, chunk.groups[runs], states)

    def open_batch(self) -> pa.RecordBatch | None:
        """The windows still open, each as its partial result now (the rows they would be
        emitted as, if they closed now), or None when none is open; nothing changes."""
        if not self._chunks:
            return None
        state = self._merged()
        ends = state.ends + self.spec.gap if self.spec.kind == "session" else state.ends
        return self._batch(state, ends, advance=False)

    def _emit(self, out: _Chunk, ends: np.ndarray) -> None:
        self.emit(self._batch(out, ends))

    def _batch(self, out: _Chunk, ends: np.ndarray, advance: bool = True) -> pa.RecordBatch:
        order = np.lexsort((out.groups, ends))
        out, ends = _take(out, order), ends[order]
        columns: dict[str, pa.Array] = {}
        for key, values in zip(self.keys, self.encoder.values(out.groups), strict=True):
            columns[key.name] = values
        # a session joins its records from batches in any order, even a late one between
        # two sessions of one batch: its values are written in the one order that does not
        # depend on that, ascending
        ascending = self.spec.kind == "session"
        for call, kind, kept in zip(self.calls, self.kinds, out.states, strict=True):
            if call.function.name in _KLL_STATES or (
                self.sketch_state and call.function.name in SKETCHES
            ):
                columns[call.name] = state_bytes(kind, kept, ascending)
            else:
                columns[call.name] = results_array(kind, kept, call)
        columns[START] = time_array(out.starts)
        columns[END] = time_array(ends)
        count = len(ends)
        seqs = pa.array(np.arange(self._seq, self._seq + count, dtype=np.int64))
        if advance:
            self._seq += count
        names = [*columns, TIME, SEQ]
        return pa.record_batch([*columns.values(), time_array(ends), seqs], names=names)


def _session_runs(
    groups: np.ndarray, firsts: np.ndarray, lasts: np.ndarray, gap: int
) -> np.ndarray:
    """The first row of each session in rows sorted by (group, first): a row starts a new
    one when its group changes or it begins ``gap`` or more after every earlier row of its
    group ended."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    low = int(lasts.min())
    span = int(lasts.max()) - low + 1
    ranks = np.concatenate([[0], np.cumsum(groups[1:] != groups[:-1])])
    if (int(ranks[-1]) + 1) * span < 2**62:  # a running maximum that restarts at each group
        reach = np.maximum.accumulate(ranks * span + (lasts - low)) - ranks * span + low
    else:
        reach = lasts.copy()
        for i in range(1, len(reach)):
            if ranks[i] == ranks[i - 1]:
                reach[i] = max(reach[i], reach[i - 1])
    new = np.ones(len(groups), dtype=bool)
    new[1:] = (ranks[1:] != ranks[:-1]) | (firsts[1:] - reach[:-1] >= gap)
    starts: np.ndarray = np.flatnonzero(new)
    return starts


def state_bytes(kind: Kind, columns: Columns, ascending: bool = False) -> pa.Array:
    """Each row's partial state in DataSketches' own serialized form (KLL for quantiles and
    distributions, HLL for distinct counts, frequent items for TOP_K), as BINARY; a KLL
    state holding its values holds them as they came or, ``ascending``, in ascending order
    (of their bits: -0.0 before 0.0)."""
    if isinstance(kind, KllKind):
        n, base = columns["n"], columns["base"]
        exact = base >= 0  # values kept as they are: written as level 0 of a sketch at once

        def written(rows: Columns) -> pa.Array:
            values, held = _gather(rows), rows["n"]
            return exact_states(ascending_rows(values, held) if ascending else values, held, kind.k)

        small = exact & (n <= kind.k)  # the values are the state's level 0 as they are
        if small.all():
            return written(columns)
        out: list[bytes] = [b""] * len(n)
        for rows, write in (
            (np.flatnonzero(small), lambda r: written(r).to_pylist()),
            (  # more: the state made of them (a function of the values alone)
                np.flatnonzero(exact & ~small),
                lambda r: built_states(_gather(r), r["n"], kind.k),
            ),
        ):
            if len(rows):
                chosen = {name: column[rows] for name, column in columns.items()}
                for i, data in zip(rows.tolist(), write(chosen), strict=True):
                    out[i] = data
        for i in np.flatnonzero(~exact).tolist():
            out[i] = columns["state"][i].to_bytes()
        return pa.array(out, pa.binary())
    if isinstance(kind, ObjectKind):
        return pa.array([state.to_bytes() for state in columns["state"]], pa.binary())
    raise TypeError(f"{type(kind).__name__} keeps no sketch")
