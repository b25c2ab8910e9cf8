"""Windowed inner equi-join of a primary (left) and a dependent (right) stream.

A pair (left at ``tl``, right at ``tr``) with equal non-NULL keys matches if and only if
``tl - preceding < tr <= tl + following``.  It is a symmetric hash join: each arriving batch
probes the other side's kept records, then is kept on its own side; a pair is emitted once,
by whichever record arrived second, with that record's time.  Rows of one batch never
match each other (they are one side's), so a batch does what its records would one by one.

Each side keeps its records in a few *runs*, each sorted by (key, time), so a probe is two
binary searches a run; runs of similar size merge (as a log-structured merge tree does), so
a side has a logarithmic number of them.  A kept record goes once the other side's records
can no longer reach it: every record not late has a time at least the side's newest minus
the slack, so a right record at ``tr <= newest_left - slack - preceding`` and a left one at
``tl + following < newest_right - slack`` are forgotten.  A record later than the slack on
its own side is counted and left out, which keeps the output exact for any interleaving of
the two inputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rillet.datatypes import DataType
from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.flows.frames import SEQ, TIME, time_array, times_of
from rillet.flows.keys import KeyEncoder, key_table
from rillet.flows.watermark import NEVER, running_max
from rillet.flows.windows import Counters, Emit, _ranges

#: a checkpoint's columns of a side's kept records before the side's own
_KEPT = ("rillet.run", "rillet.key", "rillet.time")


@dataclass(slots=True)
class _Run:
    """Kept records of one side, sorted by (key, time).  ``distinct`` holds the run's keys
    once each, ascending, and ``code`` is ``rank of the key * span + time - low``,
    ascending: one binary search finds a key's records in a time range."""

    code: np.ndarray
    keys: np.ndarray
    times: np.ndarray
    distinct: np.ndarray
    table: pa.Table
    low: int
    span: int

    @classmethod
    def of(cls, keys: np.ndarray, times: np.ndarray, table: pa.Table, runs: int = 1) -> _Run:
        """The records sorted; ``runs``: they are that many runs sorted by (key, time)
        one after another, older first, which a stable sort by key merges in linear time
        (timsort) when their times do not overlap within a key."""
        low = int(times.min())
        span = int(times.max()) - low + 1
        order = np.argsort(keys, kind="stable") if runs > 1 else None
        if order is not None:
            merged_keys, merged_times = keys[order], times[order]
            same = merged_keys[1:] == merged_keys[:-1]
            if (merged_times[1:][same] < merged_times[:-1][same]).any():
                order = None  # late records interleave: sort by both
        if order is None:
            order = np.lexsort((times, keys))
        keys, times = keys[order], times[order]
        new_key = np.empty(len(keys), dtype=bool)
        new_key[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=new_key[1:])
        rank = np.cumsum(new_key) - 1
        code = rank * span + (times - low)
        return cls(code, keys, times, keys[new_key], table.take(pa.array(order)), low, span)

    def __len__(self) -> int:
        return len(self.code)

    def find(
        self, keys: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each probe (key, [start, end)), sorted by key then start, the first and
        past-last matching rows."""
        rank = np.searchsorted(self.distinct, keys)
        held = self.distinct[np.minimum(rank, len(self.distinct) - 1)] == keys
        base = rank * self.span
        low = base + np.clip(start - self.low, 0, self.span)
        high = np.where(held, base + np.clip(end - self.low, 0, self.span), low)
        return np.searchsorted(self.code, low), np.searchsorted(self.code, high)


def _merge(runs: Sequence[_Run]) -> _Run:
    return _Run.of(
        np.concatenate([r.keys for r in runs]),
        np.concatenate([r.times for r in runs]),
        pa.concat_tables([r.table for r in runs]),
        len(runs),
    )


class _Side:
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.runs: list[_Run] = []
        self.newest = NEVER

    def keep(self, keys: np.ndarray, times: np.ndarray, table: pa.Table) -> None:
        if not len(keys):
            return
        self.runs.append(_Run.of(keys, times, table))
        # runs of similar size merge: a side holds a logarithmic number of them
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = _merge([self.runs[-1], last])

    def dump(self) -> pa.RecordBatch | None:
        """The kept records, run after run: each one's run, key and time, then the side's
        columns (None while none is kept)."""
        if not self.runs:
            return None
        table = pa.concat_tables([run.table for run in self.runs]).combine_chunks()
        runs = np.repeat(np.arange(len(self.runs), dtype=np.int32), [len(r) for r in self.runs])
        extra = [
            pa.array(runs),
            pa.array(np.concatenate([run.keys for run in self.runs])),
            pa.array(np.concatenate([run.times for run in self.runs])),
        ]
        arrays = [*extra, *(table.column(i).combine_chunks() for i in range(table.num_columns))]
        return pa.record_batch(arrays, names=[*_KEPT, *table.column_names])

    def load(self, batch: pa.RecordBatch) -> None:
        """Keep the runs :meth:`dump` gave, as they were."""
        runs = batch.column(0).to_numpy(zero_copy_only=False)
        keys = batch.column(1).to_numpy(zero_copy_only=False)
        times = batch.column(2).to_numpy(zero_copy_only=False)
        table = pa.Table.from_batches([batch]).select(list(range(len(_KEPT), batch.num_columns)))
        cuts = [0, *(np.flatnonzero(np.diff(runs)) + 1).tolist(), len(runs)]
        self.runs = [  # each already sorted: its order stays as it was
            _Run.of(keys[a:b], times[a:b], table.slice(a, b - a))
            for a, b in itertools.pairwise(cuts)
        ]

    def forget_through(self, time: int) -> None:
        """Forget the records at or before ``time``."""
        kept = []
        for run in self.runs:
            newest = int(run.times.max())
            if newest <= time:
                continue
            old = run.times <= time
            # filter once half of a run may go (cheap to test, rare to do)
            if run.low <= time and 2 * (time - run.low) >= newest - run.low and old.any():
                fresh = ~old
                run = _Run.of(run.keys[fresh], run.times[fresh], run.table.filter(pa.array(fresh)))
            kept.append(run)
        self.runs = kept


class WindowJoin:
    """The operator: ``push(batch, left)`` takes a frame of one side."""

    def __init__(
        self,
        left_key: Kernel,
        right_key: Kernel,
        key_type: DataType,
        left_columns: Sequence[str],
        right_columns: Sequence[str],
        preceding_us: int,
        following_us: int,
        slack_us: int,
        emit: Emit,
        counters: Counters,
    ) -> None:
        self.key_kernels = (left_key, right_key)
        arrow = key_type.arrow
        self.integers = bool(pa.types.is_integer(arrow) or pa.types.is_timestamp(arrow))
        self.encoder = KeyEncoder([arrow])  # other keys are numbered
        self.sides = (_Side(left_columns), _Side(right_columns))
        self.preceding = preceding_us
        self.following = following_us
        self.slack = slack_us
        self.emit = emit
        self.counters = counters
        self._seq = 0

    def push(self, batch: pa.RecordBatch, left: bool) -> None:
        if not batch.num_rows:
            return
        own, other = (self.sides[0], self.sides[1]) if left else (self.sides[1], self.sides[0])
        times = times_of(batch)
        prior = running_max(times, own.newest)
        late = times < prior - self.slack
        own.newest = max(own.newest, int(times.max()))
        keys = evaluate(self.key_kernels[0 if left else 1], Context(batch, TIME))
        usable = ~late
        if keys.null_count:
            usable &= keys.is_valid().to_numpy(zero_copy_only=False)
        if late.any():
            self.counters.add(int(late.sum()), int(late.sum()))
        rows = np.flatnonzero(usable)
        if len(rows) < batch.num_rows:
            batch = batch.take(pa.array(rows))
            keys = keys.take(pa.array(rows))
            times = times[rows]
        if not batch.num_rows:
            return
        if self.integers:  # the values themselves order the runs: nothing to remember
            ids = keys.cast(pa.int64()).to_numpy(zero_copy_only=False)
        else:
            ids = self.encoder.encode([keys])
        if left:  # right records with tl - preceding < tr <= tl + following
            start, end = times - self.preceding + 1, times + self.following + 1
        else:  # left records with tr - following <= tl < tr + preceding
            start, end = times - self.following, times + self.preceding
        table = pa.Table.from_batches([batch.select(own.columns)])
        # probes in (key, time) order: the binary searches then walk the runs forward
        order = np.lexsort((start, ids))
        for run in list(other.runs):
            first, past = run.find(ids[order], start[order], end[order])
            counts = past - first
            if not counts.any():
                continue
            probe = np.repeat(order, counts)
            kept = _ranges(first, counts)
            arrival = np.argsort(probe, kind="stable")  # the pairs in the probes' order
            probe, kept = probe[arrival], kept[arrival]
            mine = table.take(pa.array(probe))
            theirs = run.table.take(pa.array(kept))
            pair = (mine, theirs) if left else (theirs, mine)
            self._emit(pair[0], pair[1], times[probe])
        own.keep(ids, times, table)
        # what the other side can no longer reach
        newest = own.newest - self.slack
        if left:
            other.forget_through(newest - self.preceding)
        else:
            own_left = self.sides[0]
            own_left.forget_through(newest - self.following - 1)

    def dump(self) -> tuple[dict[str, int], dict[str, pa.RecordBatch]]:
        """The join's state, for a named flow's checkpoint: the pairs it numbered and each
        side's newest time, and as tables the keys it numbered ("keys", but for integer
        keys, which are their own numbers) and each side's kept records ("left",
        "right"), run by run: a restored join probes them in the same order, so it emits
        its pairs in the same order; read back by :meth:`load`."""
        left, right = self.sides
        scalars = {"seq": self._seq, "left_newest": left.newest, "right_newest": right.newest}
        tables: dict[str, pa.RecordBatch] = {}
        if not self.integers:
            tables["keys"] = key_table(self.encoder)
        for name, side in zip(("left", "right"), self.sides, strict=True):
            kept = side.dump()
            if kept is not None:
                tables[name] = kept
        return scalars, tables

    def load(self, scalars: dict[str, int], tables: dict[str, pa.RecordBatch]) -> None:
        """Take the state :meth:`dump` gave (before any record is pushed)."""
        if "keys" in tables:
            self.encoder.learn(tables["keys"].columns)
        self._seq = int(scalars["seq"])
        for name, side in zip(("left", "right"), self.sides, strict=True):
            side.newest = int(scalars[f"{name}_newest"])
            if name in tables:
                side.load(tables[name])

    def _emit(self, left: pa.Table, right: pa.Table, times: np.ndarray) -> None:
        columns = [*left.columns, *right.columns]
        names = [*left.column_names, *right.column_names]
        count = len(times)
        seqs = pa.array(np.arange(self._seq, self._seq + count, dtype=np.int64))
        self._seq += count
        table = pa.table([*columns, time_array(times), seqs], names=[*names, TIME, SEQ])
        for batch in table.to_batches():
            self.emit(batch)
