"""rillet.Flow: a running continuous query, its inputs, and its output records.

A flow subscribes to each stream it reads (:meth:`rillet.Stream.subscribe`, from the
stream's first kept record: the stored ones, then the live ones) and pushes each batch
through its operators under one lock (a join's two streams come on two threads).  Its
output is kept in order until read: iterate the flow for :class:`FlowRecord`\\ s, or call
:meth:`Flow.batches` for Arrow batches.

A flow whose streams are all fed by sources that finish (FILE) ends once they have and
every record they appended went through: the last windows are flushed and iteration
stops.  Any other flow runs until :meth:`Flow.cancel`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rillet.batches import decoded
from rillet.datatypes import DataType
from rillet.errors import ConflictError, FlowError, RilletError
from rillet.flows.frames import SEQ, TIME
from rillet.flows.operators import Operator, event_windows, takes_dictionaries
from rillet.flows.windows import Counters
from rillet.record import Record
from rillet.schema import OFFSET

if TYPE_CHECKING:
    from rillet.flows.timewindows import EventWindows
    from rillet.stream import Stream
    from rillet.subscription import Subscription

log = logging.getLogger("rillet")
POLL = 0.02  # seconds between looks at whether the sources of a flow have finished
TICK = 0.05  # seconds between advances of arrival-time windows by the clock


class FlowRecord(Record):
    """An output record of a flow: a Record whose ``timestamp`` is its event time (the
    window's closing bucket for aggregates, the later event's for joins, the input's
    otherwise) and whose ``offset`` numbers the flow's output from 0."""

    __slots__ = ("timestamp",)

    def __init__(
        self, index: dict[str, int], values: tuple[Any, ...], offset: int, timestamp: Any
    ) -> None:
        super().__init__(index, values, offset)
        self.timestamp = timestamp

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={self[name]!r}" for name in self)
        return f"FlowRecord(timestamp={self.timestamp!r}, {fields})"


@dataclass(frozen=True, slots=True)
class Input:
    """A stream the flow reads and the operator its batches go to."""

    stream: Stream
    operator: Operator


class _Subscriber:
    """The flow's subscriber of one stream: storage batches become frames, pushed in
    offset order.

    A stream's stored records come in offset order (:meth:`rillet.Stream.stored`), then
    the live ones: a replay sees the records in the order they were appended, as a live
    run did.  A refreshed named flow's stored records are held, and go in the order of
    their event time once the catch-up is read.
    """

    def __init__(self, flow: Flow, target: Input) -> None:
        self.flow = flow
        self.target = target
        self.time_column = target.stream.schema.time_column
        self._order = threading.Lock()  # one batch at a time, held ones first
        self._held: list[pa.RecordBatch] = []
        #: the operator takes the catch-up's text as sealed files hold it, dictionary-encoded
        self.dictionaries = takes_dictionaries(target.operator)

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        with self._order:
            if history and self.flow.sorted_through is not None:
                self._held.append(batch)
                return
            self._release()
            self._push(batch)

    def observe_many(self, batches: list[pa.RecordBatch]) -> None:
        """Live batches that queued up while the flow worked, pushed as one: a flow's
        output does not depend on where its input is cut into batches (a replay cuts it
        otherwise), and its cost a batch falls as batches grow."""
        self.observe(pa.concat_batches(batches), False)

    @property
    def holding(self) -> bool:
        """Whether stored batches wait for the catch-up's end (a refreshed flow's, to go
        in the order of their event time)."""
        return bool(self._held)

    def release(self) -> None:
        """Push the held stored batches, in offset order."""
        with self._order:
            self._release()

    def history_read(self) -> None:
        """The catch-up was read: the held stored batches go, then the idle advances a
        replay keeps for its end, on the subscription's thread, so a reader waiting for
        the catch-up sees what they make (a REFRESH's rows)."""
        self.release()
        windows = event_windows(self.target.operator)
        if windows is not None:
            with self.flow._lock:
                self.flow._call(windows.history_read, lambda: "as its stored input ended")

    def _release(self) -> None:
        if not self._held:
            return
        # batches of several files' dictionaries: spelt out, as they are put in order
        table = pa.Table.from_batches([decoded(b) for b in self._held]).sort_by(OFFSET)
        self._held = []
        through = self.flow.sorted_through
        if through is not None:  # a refreshed named flow: the history by event time
            before = pc.less(table.column(OFFSET), through.get(self.target.stream.name, 0))
            early = table.filter(before)
            table = table.filter(pc.invert(before))
            windows = event_windows(self.target.operator)
            if windows is None:  # no windows: the stream's time orders it
                early = early.sort_by([(self.time_column, "ascending"), (OFFSET, "ascending")])
            # else one batch, which the windows take in the order of their own time
            for batch in early.combine_chunks().to_batches():
                self._push(batch, ordered=False, by_time=windows)
        for batch in table.to_batches():
            self._push(batch)

    def _push(
        self, batch: pa.RecordBatch, ordered: bool = True, by_time: EventWindows | None = None
    ) -> None:
        if not batch.num_rows:
            return
        if not self.dictionaries:
            batch = decoded(batch)
        names = batch.schema.names
        arrays = [batch.column(i) for i in range(len(names) - 1)]  # the last is _offset
        frame = pa.record_batch(
            [*arrays, batch.column(self.time_column), batch.column(len(names) - 1)],
            names=[*names[:-1], TIME, SEQ],
        )
        offsets = batch.column(len(names) - 1)
        last = offsets[-1].as_py()
        since = self.flow.since_us
        if since is not None:  # a named flow's ``since`` time: the records from then on
            frame = frame.filter(pc.greater_equal(frame.column(TIME).cast(pa.int64()), since))
            if not frame.num_rows:
                return
        # in offset order, every record before ``last`` went through with this batch (not
        # while a refreshed flow's history goes by event time)
        read = (self.target.stream.name, last + 1) if ordered and not self._held else None
        self.flow._push(self.target.operator, frame, read, by_time)

    def forget_before(self, start_us: int) -> None:
        """Retention is the stream's business: a flow keeps what its windows hold."""


class Flow:
    """A running continuous query (``db.execute("SELECT ...")`` returns one).

    Iterate it to receive its output records as they are produced; ``cancel()`` stops it,
    ``wait()`` waits for it to end.  ``late_events`` counts the input records that came
    later than the slack (their window was already out), ``dropped_events`` the records
    that count in no window: late ones too old for any, and those of no window time.
    """

    def __init__(
        self,
        flow_id: int,
        query: str,
        columns: Sequence[str],
        inputs: Sequence[Input],
        counters: Counters,
        ends: Callable[[], bool] | None = None,
        on_end: Callable[[Flow], None] | None = None,
        graph: str = "",
        clock: Callable[[], float] = time.time,
        ticking: bool = False,
        types: Mapping[str, DataType] | None = None,
    ) -> None:
        self.id = flow_id
        self.query = query
        self.columns = list(columns)
        #: the output columns' types (those of its plan), where known
        self.types: dict[str, DataType] = dict(types or {})
        self.graph = graph
        self._inputs = list(inputs)
        self._counters = counters
        self._ends = ends  # None: runs until cancelled; else true once the sources finished
        self._on_end = on_end
        self._clock = clock  # the database's: the one that stamps arrival times
        self._ticking = ticking  # ticks even over event-time streams (an idle timeout)
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._lock = threading.Lock()  # around the operators
        self._out = threading.Condition()
        self._batches: deque[pa.RecordBatch] = deque()
        self._produced = 0
        self._done = False
        self._failure: BaseException | None = None
        self._error: str | None = None  # what went wrong, as text, once it failed
        self._cancelled = False
        self._subscriptions: list[tuple[Stream, Subscription]] = []
        self._subscribers: list[_Subscriber] = []
        #: the streams the flow reads
        self.streams = sorted({i.stream.name for i in self._inputs})
        #: the stream the flow reads, where it reads one
        self.stream: str | None = self.streams[0] if len(self.streams) == 1 else None
        #: a named flow's output stream, or the stream name attached to a flow of a SELECT
        #: (``\name``, :mod:`rillet.flows.naming`); None otherwise
        self.name: str | None = None
        #: whether ``name`` was attached to a running flow of a SELECT (not a named flow)
        self.attached = False
        self._tee: Callable[[pa.RecordBatch], object] | None = None
        #: the offset each input stream is read from (0 where not given)
        self.start_offsets: dict[str, int] = {}
        #: only input records at or after this event time (epoch microseconds) count
        self.since_us: int | None = None
        #: a refreshed named flow: the input records before these offsets (by stream) go in
        #: event-time order (none is late), the rest in offset order
        self.sorted_through: dict[str, int] | None = None
        #: per input stream, the offset before which every record has gone through (in
        #: offset order; a refreshed flow's history by event time does not count)
        self.read_offsets: dict[str, int] = {}
        #: called under the flow's lock each time ``read_offsets`` moves (a named flow's
        #: checkpoints)
        self.on_read: Callable[[], None] | None = None
        #: output rows made since the flow started in this process (a named flow's: those
        #: appended to its stream)
        self.records_out = 0
        self._began = time.monotonic()

    # -- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        for target in self._inputs:
            name = target.stream.name
            if self.sorted_through is None or name not in self.sorted_through:
                # nothing read yet: every record from the start offset on is still to come
                # (a refreshed flow's history goes by event time: it counts once read)
                self.read_offsets.setdefault(name, self.start_offsets.get(name, 0))
            subscriber = _Subscriber(self, target)
            subscription = target.stream.subscribe(
                subscriber,
                f"flow-{self.id}",
                from_offset=self.start_offsets.get(name, 0),
                dictionaries=subscriber.dictionaries,
            )
            self._subscribers.append(subscriber)
            self._subscriptions.append((target.stream, subscription))
        if self._ends is not None:
            threading.Thread(target=self._watch, name=f"rillet-flow-{self.id}", daemon=True).start()
        elif self._ticking or all(target.stream.schema.implicit_time for target in self._inputs):
            threading.Thread(target=self._tick, name=f"rillet-flow-{self.id}", daemon=True).start()

    def _tick(self) -> None:
        """Records stamped with their arrival time: event time is the clock's, so windows
        close as the clock passes them, without waiting for the next record.  Not during
        the catch-up of stored records (their times are behind the clock)."""
        while not self._done:
            time.sleep(TICK)
            if any(s.catching_up for _, s in self._subscriptions) or any(
                s.holding for s in self._subscribers
            ):
                continue
            now_us = int(self._clock() * 1_000_000)
            with self._lock:
                if self._done or self._failure is not None:
                    return
                try:
                    for target in self._inputs:
                        target.operator.tick(now_us)
                except Exception as exc:
                    log.exception("flow %d failed", self.id)
                    self._failed(exc, "as the clock moved its windows")
                    threading.Thread(target=self._end, args=(False,), daemon=True).start()
                    return

    def _watch(self) -> None:
        """End the flow once its sources finished and their records went through."""
        assert self._ends is not None
        while not self._done:
            try:
                ended = self._ends()
            except Exception as exc:  # its source failed (a malformed line, policy fail)
                log.error("flow %d failed: its source failed: %s", self.id, exc)
                for target in self._inputs:  # what it read before goes through first
                    target.stream.caught_up()
                for subscriber in self._subscribers:
                    subscriber.release()
                self._failed(exc, "its source failed")
                self._end(finish=False)
                return
            if ended:
                self.finish()
                return
            time.sleep(POLL)

    def finish(self) -> None:
        """End of input: every record appended to the flow's streams so far goes through,
        the open windows close (their rows are emitted), and the flow ends.  A flow over
        FILE sources does this by itself once they finished."""
        for target in self._inputs:
            target.stream.caught_up()
        for subscriber in self._subscribers:
            subscriber.release()
        self._end(finish=True)

    def _push(
        self,
        operator: Operator,
        frame: pa.RecordBatch,
        read: tuple[str, int] | None = None,
        by_time: EventWindows | None = None,
    ) -> None:
        """``frame`` through ``operator``; ``read``: (stream, offset) when every record of
        the stream before the offset has gone through with it; ``by_time``: windows that
        take it in the order of their own time (set under the lock: a join's other side
        pushes its own batches as they are)."""
        with self._lock:
            if by_time is not None:
                by_time.by_time = True
            try:
                went = self._call(
                    lambda: operator.push(frame), lambda: self._where(operator, frame)
                )
            finally:
                if by_time is not None:
                    by_time.by_time = False
            if not went:
                return
            if read is not None:
                self.read_offsets[read[0]] = read[1]
                if self.on_read is not None:
                    self.on_read()

    def _call(self, work: Callable[[], None], where: Callable[[], str]) -> bool:
        """Do ``work`` on the operators (holding the flow's lock); whether it went through.
        After a failure nothing more goes through (the flow ends on another thread: output
        made without the failed work would be wrong); work that raises fails the flow, the
        stream goes on."""
        if self._done or self._failure is not None:
            return False
        try:
            work()
        except Exception as exc:
            log.exception("flow %d failed", self.id)
            self._failed(exc, where())
            threading.Thread(target=self._end, args=(False,), daemon=True).start()
            return False
        return True

    def _where(self, operator: Operator, frame: pa.RecordBatch) -> str:
        """Which input records a failed push carried (told with the error: a person can
        find the record the expression could not compute)."""
        name = next((i.stream.name for i in self._inputs if i.operator is operator), "?")
        seqs = frame.column(SEQ)
        return f"on the records at offsets {pc.min(seqs)}..{pc.max(seqs)} of stream {name!r}"

    def _failed(self, exc: BaseException, where: str = "") -> None:
        """Keep the failure (the first one: what followed is its consequence) and its text."""
        if self._failure is not None:
            return
        self._failure = exc
        self._error = f"{describe(exc)} ({where})" if where else describe(exc)

    def fail(self, exc: BaseException) -> None:
        """End the flow now as failed with ``exc`` (a named flow that cannot start is
        listed this way, with its error); nothing if it has ended already."""
        with self._lock:
            if self._done:
                return
            self._failed(exc)
        self._end(finish=False)

    def _end(self, finish: bool) -> None:
        for stream, subscription in self._subscriptions:
            stream.unsubscribe(subscription)
        with self._lock:
            if self._done:
                return
            if finish and self._failure is None:
                try:
                    for target in self._inputs:
                        target.operator.finish()
                except Exception as exc:
                    log.exception("flow %d failed at the end of its input", self.id)
                    self._failed(exc, "at the end of its input")
            with self._out:
                self._done = True
                self._out.notify_all()
        if self._on_end is not None:
            self._on_end(self)

    def cancel(self, drain: bool = False) -> None:
        """Stop the flow: it reads no more input and emits nothing more (what it emitted
        before can still be read).  ``drain``: the records appended to its streams so far
        go through first (a dropped stream's last records are not lost); its open windows
        are not closed."""
        if drain and not self._done:
            for target in self._inputs:
                target.stream.caught_up()
            for subscriber in self._subscribers:
                subscriber.release()
        with self._out:
            if self._done:
                return
            self._cancelled = True
        self._end(finish=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flow has ended (its sources finished, or it was cancelled);
        False if ``timeout`` seconds passed first."""
        with self._out:
            return self._out.wait_for(lambda: self._done, timeout)

    @property
    def running(self) -> bool:
        return not self._done

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def state(self) -> str:
        """Where the flow is: "running", "failed" (``error`` tells why), "cancelled" or
        "ended" (its input ended)."""
        if not self._done:
            return "running"
        if self._error is not None:
            return "failed"
        return "cancelled" if self._cancelled else "ended"

    @property
    def error(self) -> str | None:
        """What made the flow fail, as text (which input records, where known); None while
        it has not failed."""
        return self._error

    @property
    def lag(self) -> int:
        """Batches its input streams have ingested that the flow has not read yet."""
        return sum(subscription.lag for _, subscription in self._subscriptions)

    @property
    def rate(self) -> float:
        """Output rows a second since the flow started (in this process)."""
        return self.records_out / max(time.monotonic() - self._began, 1e-9)

    @property
    def late_events(self) -> int:
        """Input records that came later than the slack allows."""
        return self._counters.late

    @property
    def dropped_events(self) -> int:
        """Late records too old to count in any window still open (left out)."""
        return self._counters.dropped

    # -- output ------------------------------------------------------------------------

    def emit(self, batch: pa.RecordBatch) -> None:
        """The last operator's output (called under the flow's lock)."""
        if not batch.num_rows:
            return
        self.records_out += batch.num_rows
        if self._tee is not None:  # an attached stream name: its stream gets the batch too
            self._tee(_output(batch, self.columns))
        with self._out:
            self._batches.append(batch)
            self._out.notify_all()

    def _feed(self, to: Callable[[pa.RecordBatch], object] | None, name: str | None = None) -> None:
        """Hand every output batch from now on (the output columns plus ``timestamp``) to
        ``to`` as well, and show ``name`` as the flow's stream; ``None`` stops it.  Under the
        flow's lock: a batch goes to ``to`` entirely or not at all."""
        with self._lock:
            self._tee = to
            self.name = name
            self.attached = to is not None

    def batches(self, timeout: float | None = None) -> Iterator[pa.RecordBatch]:
        """The output as Arrow batches of the output columns plus ``timestamp``, as they
        are produced; ends when the flow ends (or after ``timeout`` seconds without
        output)."""
        while True:
            with self._out:
                if not self._out.wait_for(lambda: self._batches or self._done, timeout):
                    return
                if not self._batches:
                    if self._failure is not None:
                        raise FlowError(
                            f"flow {self.id} failed: {self._error}", flow=self.id
                        ) from self._failure
                    return
                batch = self._batches.popleft()
            yield _output(batch, self.columns)

    def __iter__(self) -> Iterator[FlowRecord]:
        for batch in self.batches():
            yield from self._records(batch)

    def _records(self, batch: pa.RecordBatch) -> Iterator[FlowRecord]:
        columns = [batch.column(i).to_pylist() for i in range(len(self.columns))]
        times = batch.column("timestamp").to_pylist()
        first = self._produced
        self._produced += len(times)
        index = self._index
        for n, (values, stamp) in enumerate(zip(zip(*columns, strict=True), times, strict=True)):
            yield FlowRecord(index, values, first + n, stamp)

    def __repr__(self) -> str:
        return f"Flow(id={self.id}, {self.state}, query={self.query!r})"


def refuse_stopping_named(flow: Any, command: str) -> None:
    """ConflictError when ``flow`` (embedded or remote) is a named flow's (``CREATE STREAM
    ... AS SELECT``): ``command`` would stop it only until the database opens again, where
    it resumes; DROP STREAM removes it."""
    name = getattr(flow, "name", None)
    if name is not None and not getattr(flow, "attached", False):
        raise ConflictError(
            f"flow {flow.id} is the named flow {name!r}: {command} would stop it only until "
            f"the database opens again; DROP STREAM {name} removes it",
            kind="flow",
            name=name,
        )


def describe(exc: BaseException) -> str:
    """An error as text for a person: a RilletError's message, any other error's class
    and message (``ArrowInvalid: overflow``).

    Examples:
        >>> describe(ZeroDivisionError("division by zero"))
        'ZeroDivisionError: division by zero'
    """
    return str(exc) if isinstance(exc, RilletError) else f"{type(exc).__name__}: {exc}"


def _output(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.RecordBatch:
    arrays = [batch.column(i) for i in range(len(columns))]
    return pa.record_batch([*arrays, batch.column(TIME)], names=[*columns, "timestamp"])


class Sink:
    """The end of a flow's operators: hands output frames to the flow."""

    def __init__(self) -> None:
        self.flow: Flow | None = None

    def push(self, batch: pa.RecordBatch) -> None:
        assert self.flow is not None
        self.flow.emit(batch)

    def tick(self, now_us: int) -> None:
        """Nothing to do: output goes to the flow as it is made."""

    def finish(self) -> None:
        """Nothing to do: the flow ends after its operators finished."""
