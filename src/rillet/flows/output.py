"""A named flow's output: appended to its stream after the rows a run before this one
stored (a replay makes them again), and its open windows' rows for ``include_open``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.flows.flow import Flow, Sink, _output
from rillet.flows.operators import Filter, Project, window_aggregate
from rillet.schema import OFFSET

if TYPE_CHECKING:
    from rillet.flows.late import LateKeeper
    from rillet.stream import Stream


def stored_rows(stream: Stream) -> pa.Table:
    """A stream's stored rows in offset order, without their offsets."""
    batches = list(stream.stored())
    if not batches:
        return stream.schema.arrow.empty_table()
    table = pa.Table.from_batches(batches).sort_by(OFFSET)
    return table.drop_columns([OFFSET])


def micros(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Times as epoch microseconds (int64)."""
    return column.cast(pa.int64())


class Appender:
    """Appends batches to a stream, after skipping the first ``skip`` rows (those a run
    before this one already stored)."""

    def __init__(self, stream: Stream, skip: int) -> None:
        self.stream = stream
        self.skip = skip

    @property
    def replayed(self) -> bool:
        """Whether the rows stored before have all been produced again."""
        return self.skip == 0

    def append(self, batch: pa.RecordBatch) -> int:
        """Append ``batch`` but the rows stored before; how many rows were appended."""
        rows = batch.num_rows
        if self.skip >= rows:
            self.skip -= rows
            return 0
        if self.skip:
            batch = batch.slice(self.skip)
            self.skip = 0
        self.stream.append_many(batch)
        return int(batch.num_rows)


class TimeAppender(Appender):
    """A roll-up's appender: its rows come in order of ``timestamp`` (a window is out only
    once the watermark passed its end), so the rows stored before are those before the last
    stored time, and the first ``skip`` at it.  Unlike a count, this holds when the input's
    retention dropped records a replay can no longer see."""

    def __init__(self, stream: Stream) -> None:
        last, at_last = tail(stream)
        super().__init__(stream, at_last)
        self.last = last

    def append(self, batch: pa.RecordBatch) -> int:
        start = 0
        if self.last is not None:
            times = batch.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False)
            before = int(np.searchsorted(times, self.last, side="left"))
            through = int(np.searchsorted(times, self.last, side="right"))
            taken = min(self.skip, through - before)
            self.skip -= taken
            start = before + taken
            if through < len(times):  # past the last stored time: the rest is new
                self.skip = 0
        if start >= batch.num_rows:
            return 0
        self.stream.append_many(batch.slice(start) if start else batch)
        return int(batch.num_rows) - start


def tail(stream: Stream) -> tuple[int | None, int]:
    """The greatest ``timestamp`` a stream holds (epoch microseconds), and how many of its
    rows have it (the last ones appended); (None, 0) when it holds none."""
    end = stream.next_offset
    span = 1024
    while True:
        low = max(0, end - span)
        batches = list(stream.stored(low, end))
        if not batches or not sum(b.num_rows for b in batches):
            return None, 0
        times = np.concatenate(
            [b.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False) for b in batches]
        )
        last = int(times.max())
        if low == 0 or (times < last).any():
            return last, int((times == last).sum())
        span *= 4


class OutputSink(Sink):
    """The end of a named flow: its output goes to its stream (not to the flow's queue);
    a roll-up's rows get ``is_open`` false (they are closed windows)."""

    def __init__(
        self,
        output: Stream,
        columns: list[str],
        windowed: bool,
        late: LateKeeper,
        kept: int | None = None,
        made: int = 0,
    ) -> None:
        super().__init__()
        self.columns = columns
        self.windowed = windowed
        self.late = late
        #: a refreshed roll-up's point: its rows of windows ending at or before it were
        #: kept, so the ones the replay makes again (partial or equal) are not appended
        self.kept = kept
        #: ``made``: how many of the stored rows the flow's state accounts for (a
        #: checkpoint's); the others it makes again first
        again = output.next_offset - made
        self.appender = TimeAppender(output) if windowed and again else Appender(output, again)
        #: when the flow's next checkpoint is due (time.monotonic()), and whether it read
        #: input since its last one
        self.due = 0.0
        self.unsaved = False

    @property
    def stored(self) -> bool:
        """Whether every row the flow made so far, and every late record it found, is
        appended (none is still being made again after a reopen)."""
        return self.appender.replayed and self.late.stored

    def rows(self, batch: pa.RecordBatch, is_open: bool) -> pa.RecordBatch:
        """The stream's columns of an output frame."""
        out = _output(batch, self.columns)
        if self.windowed:
            flag = pa.array(np.full(out.num_rows, is_open), pa.bool_())
            out = out.append_column("is_open", flag)
        return out

    def push(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            rows = self.rows(batch, False)
            if self.kept is not None:
                after = pc.greater(micros(rows.column("timestamp")), self.kept)
                rows = rows.filter(after)
            if rows.num_rows:
                appended = self.appender.append(rows)
                if self.flow is not None:
                    self.flow.records_out += appended


class _Collect:
    """The end of a copy of a flow's operators after its windows: keeps what comes."""

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []

    def push(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def tick(self, now_us: int) -> None:
        """Nothing: a copy is never ticked."""

    def finish(self) -> None:
        """Nothing: a copy is never finished."""


def _after_windows(operator: Any, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
    """``batch`` through the stateless operators from ``operator`` to the output sink (the
    running ones are not touched); the sink's rows with ``is_open`` true."""
    if isinstance(operator, OutputSink):
        return [operator.rows(batch, True)] if batch.num_rows else []
    collect = _Collect()
    if isinstance(operator, Filter):
        Filter(operator.predicate, collect).push(batch)
    elif isinstance(operator, Project):
        Project(operator.outputs, collect).push(batch)
    else:  # a second window after the first: its open rows are not this one's
        return []
    return [b for each in collect.batches for b in _after_windows(operator.downstream, each)]


def open_rows(flow: Flow, output: Stream) -> tuple[list[pa.RecordBatch], int]:
    """The rows of a named flow's windows still open, as their partial results now, and
    how many rows its stream ``output`` held then (it appends under the same lock: a window
    closing after is in the first, and not among those)."""
    found: list[pa.RecordBatch] = []
    with flow._lock:
        held = output.next_offset
        for target in flow._inputs:
            aggregate = window_aggregate(target.operator)
            if aggregate is not None and (batch := aggregate.windows.open_batch()) is not None:
                found.extend(_after_windows(aggregate.downstream, batch))
    return found, held
