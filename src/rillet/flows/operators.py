"""The operators of a flow: each takes frames (:mod:`rillet.flows.frames`) with ``push``
and passes what it makes to the next; ``finish`` is the end of input.

:class:`Filter` and :class:`Project` are Arrow kernels over whole batches; the windowed
ones are :mod:`rillet.flows.windows` and :mod:`rillet.flows.join`, wrapped here so every
operator has the same two methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.flows.frames import KEPT, SEQ, TIME
from rillet.flows.join import WindowJoin
from rillet.flows.timewindows import EventWindows
from rillet.flows.windows import WindowAggregate


class Operator(Protocol):
    """One step of a flow."""

    def push(self, batch: pa.RecordBatch) -> None: ...

    def tick(self, now_us: int) -> None:
        """The input's event time has reached ``now_us`` (streams stamped with their
        arrival time: no record to come is older)."""

    def finish(self) -> None: ...


def takes_dictionaries(operator: Operator) -> bool:
    """Whether ``operator`` takes frames with dictionary-encoded text columns (others are
    handed their values spelt out): each says so with a ``dictionaries`` attribute."""
    return bool(getattr(operator, "dictionaries", False))


def window_aggregate(operator: Operator | None) -> EventAggregate | None:
    """The TUMBLE/HOP/SESSION aggregate ``operator`` feeds first (itself or downstream), if
    any."""
    while operator is not None and not isinstance(operator, EventAggregate):
        operator = getattr(operator, "downstream", None)
    return operator


def event_windows(operator: Operator | None) -> EventWindows | None:
    """The windows of :func:`window_aggregate`'s aggregate, if any."""
    aggregate = window_aggregate(operator)
    return aggregate.windows if aggregate is not None else None


class Filter:
    """Keeps the rows where a BOOLEAN expression is true (not false, not NULL).

    ``marks``: before TUMBLE, HOP or SESSION windows, the rows left out go on marked
    (``KEPT`` false): the watermark is the greatest event time *seen*, so a record the WHERE
    leaves out still moves it, in its place among the records (:func:`~rillet.flows.plan.
    build` decides)."""

    def __init__(self, predicate: Kernel, downstream: Operator, marks: bool = False) -> None:
        self.predicate = predicate
        self.downstream = downstream
        #: it hands dictionary-encoded columns on as they came
        self.dictionaries = takes_dictionaries(downstream)
        self.marks = marks

    def push(self, batch: pa.RecordBatch) -> None:
        mask = evaluate(self.predicate, Context(batch, TIME))
        if mask.null_count:
            mask = pc.fill_null(mask, False)
        if mask.true_count == len(batch):
            self.downstream.push(batch)
        elif self.marks:
            names = batch.schema.names
            if KEPT in names:  # a WHERE before this one's marks
                mask = pc.and_(batch.column(KEPT), mask)
                batch = batch.drop_columns([KEPT])
            self.downstream.push(batch.append_column(KEPT, mask))
        elif mask.true_count:
            self.downstream.push(batch.filter(mask))

    def tick(self, now_us: int) -> None:
        self.downstream.tick(now_us)

    def finish(self) -> None:
        self.downstream.finish()


class Project:
    """Computes the output columns (each a name and an expression), keeping the frame's
    time and order."""

    def __init__(self, outputs: Sequence[tuple[str, Kernel]], downstream: Operator) -> None:
        self.outputs = list(outputs)
        self.downstream = downstream

    def push(self, batch: pa.RecordBatch) -> None:
        ctx = Context(batch, TIME)
        arrays = [evaluate(kernel, ctx) for _, kernel in self.outputs]
        names = [name for name, _ in self.outputs]
        carried = [TIME, SEQ, *([KEPT] if KEPT in batch.schema.names else [])]
        arrays += [batch.column(name) for name in carried]
        self.downstream.push(pa.record_batch(arrays, names=[*names, *carried]))

    def tick(self, now_us: int) -> None:
        self.downstream.tick(now_us)

    def finish(self) -> None:
        self.downstream.finish()


class Aggregate:
    """The rolling window aggregation as an operator."""

    def __init__(self, build: Callable[[Callable[[pa.RecordBatch], None]], WindowAggregate],
                 downstream: Operator) -> None:  # fmt: skip
        self.downstream = downstream
        self.window = build(downstream.push)

    def push(self, batch: pa.RecordBatch) -> None:
        self.window.push(batch)

    def tick(self, now_us: int) -> None:
        """Windows close as if an event arrived now: output flows without more input."""
        self.window.advance(now_us)
        self.downstream.tick(now_us)

    def finish(self) -> None:
        self.window.finish()
        self.downstream.finish()


class EventAggregate:
    """TUMBLE, HOP and SESSION windows as an operator."""

    dictionaries = True  # numbers group key columns by their dictionary

    def __init__(self, windows: EventWindows, downstream: Operator) -> None:
        self.windows = windows
        self.downstream = downstream

    def push(self, batch: pa.RecordBatch) -> None:
        self.windows.push(batch)

    def tick(self, now_us: int) -> None:
        self.windows.tick(now_us)
        self.downstream.tick(now_us)

    def finish(self) -> None:
        self.windows.finish()
        self.downstream.finish()


class JoinSide:
    """One input of a windowed join; the join finishes when both sides have."""

    def __init__(
        self, join: WindowJoin, left: bool, downstream: Operator, ended: list[bool]
    ) -> None:
        self.join = join
        self.left = left
        self.downstream = downstream
        self._ended = ended  # shared by both sides: [left ended, right ended]

    def push(self, batch: pa.RecordBatch) -> None:
        self.join.push(batch, self.left)

    def tick(self, now_us: int) -> None:
        self.downstream.tick(now_us)

    def finish(self) -> None:
        self._ended[0 if self.left else 1] = True
        if all(self._ended):
            self.downstream.finish()
