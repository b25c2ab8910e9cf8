"""A named flow's late records: the stream ``<name>.late``, made with every flow that has
TUMBLE, HOP or SESSION windows, and kept as the flow's output is (a prefix appended, the
rest made again after a reopen).  REFRESH reads it to find the windows to recompute."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import NotFoundError
from rillet.expressions.kernels import Context, evaluate
from rillet.flows.flow import Flow
from rillet.flows.frames import SEQ, TIME, TIME_TYPE
from rillet.flows.operators import event_windows
from rillet.flows.output import Appender, micros, stored_rows
from rillet.flows.plan import Scan, TimeWindow, first_node
from rillet.flows.timewindows import EventWindows
from rillet.schema import IMPLICIT_TIME, OFFSET, Schema
from rillet.stream import StreamOptions

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.stream import Stream


def window_times(flow: Flow, late: Stream) -> tuple[pa.Table, pa.Array]:
    """The late records kept in ``<name>.late`` (the input's columns and their time, the
    stream's time column), and the window time (epoch microseconds) of each, as the
    flow's windows read it."""
    rows = stored_rows(late)
    windows = first_windows(flow)
    stamps = rows.column(late.schema.time_column)
    if windows is None or not rows.num_rows:
        return rows, pa.array(micros(stamps).to_numpy(), pa.int64())
    batch = rows.combine_chunks().to_batches()[0]
    frame = batch.append_column(TIME, stamps.combine_chunks())
    times = evaluate(windows.time, Context(frame, TIME))
    return rows, pc.fill_null(times.cast(pa.int64()), micros(stamps.combine_chunks()))


def oldest_late(db: Database, name: str, flow: Flow) -> int | None:
    """The window time of the oldest record of ``<name>.late`` (None: nothing late)."""
    try:
        late = db.stream(f"{name}.late")
    except NotFoundError:
        return None
    rows, times = window_times(flow, late)
    return int(pc.min(times).as_py()) if rows.num_rows else None


def first_windows(flow: Flow) -> EventWindows | None:
    """The TUMBLE/HOP/SESSION windows reading a flow's first input (their records' SEQ
    are its offsets), if there are."""
    return event_windows(flow._inputs[0].operator) if flow._inputs else None


#: the columns of a late record that ``<name>.late`` does not keep: the flow's own, and a
#: stream's reserved ones (an arrival-time stream's ``_time`` is its ``timestamp`` there)
NOT_KEPT = (SEQ, TIME, IMPLICIT_TIME, OFFSET)


class LateKeeper:
    """Keeps a named flow's late records in ``<name>.late`` (made with the flow)."""

    def __init__(self, db: Database, name: str, kept: int = 0) -> None:
        self.db = db
        self.name = f"{name}.late"
        #: its first rows that the flow does not make again: kept by a REFRESH, or before
        #: the checkpoint it resumed from
        self.kept = kept
        #: the rows the flow accounts for: ``kept``, then every late record it found
        self.made = kept
        self.appender: Appender | None = None
        #: the late records' time column (:func:`late_schema`)
        self.time = "timestamp"

    @property
    def stored(self) -> bool:
        """Whether ``<name>.late`` holds exactly the rows the flow accounts for."""
        try:
            return self.db.stream(self.name).next_offset == self.made
        except NotFoundError:
            return self.made == 0

    def make(self, windows: TimeWindow) -> None:
        """Make ``<name>.late`` for a flow with ``windows``, if it is not there (a folder
        of a version that made it at the first late record may not have it)."""
        try:
            self.time = self.db.stream(self.name).schema.time_column
        except NotFoundError:
            schema, self.time = late_schema(self.db, windows)
            self.db._create_stream(self.name, schema, StreamOptions())

    def keep(self, rows: pa.RecordBatch) -> None:
        self.made += rows.num_rows
        names = [n for n in rows.schema.names if n not in NOT_KEPT]
        columns = [rows.column(n) for n in names]
        if self.time not in names:  # else the input's own (a flow over a roll-up): its time
            columns.append(rows.column(TIME))
            names.append(self.time)
        batch = pa.record_batch(columns, names=names)
        if self.appender is None:
            stream = self.db.stream(self.name)
            self.appender = Appender(stream, max(0, stream.next_offset - self.kept))
        self.appender.append(batch)


def late_schema(db: Database, windows: TimeWindow) -> tuple[Schema, str]:
    """The schema of ``<name>.late`` and its time column: the records as the windows read
    them, and their time as ``timestamp``: the input's own where that is its stream's time
    (a roll-up over a roll-up), else a column of its own, ``_timestamp`` or the like where
    the input has a column of that name (in any case)."""
    columns = {c: t for c, t in windows.input.columns.items() if c not in NOT_KEPT}
    scan = first_node(windows.input, Scan)
    if (
        scan is not None
        and db.stream(scan.stream).schema.time_column == "timestamp"
        and "timestamp" in columns
    ):
        return Schema.build(list(columns.items()), "timestamp"), "timestamp"
    time = "timestamp"
    while time.lower() in {c.lower() for c in columns}:
        time = f"_{time}"
    columns[time] = TIME_TYPE
    return Schema.build(list(columns.items()), time), time
