"""A stream's subscribers: every batch in offset order, a catch-up from stored history up to
the offset where the subscriber joined, read-your-writes, and back-pressure."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import rillet
from rillet.subscription import QUEUED, READ_AHEAD, _read_ahead
from tests.unit.support import MANUAL, at, us, wait_until, within


class Recorder:
    """Remembers the offsets of every batch it is handed, and whether it was history."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[int], bool]] = []
        self.forgotten: list[int] = []
        #: how many records it had seen when told to forget, one count a forget_before
        self.seen_when_forgotten: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def forget_before(self, start_us: int) -> None:
        self.forgotten.append(start_us)
        self.seen_when_forgotten.append(len(self.offsets()))

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        self.gate.wait()
        self.batches.append((batch.column(batch.num_columns - 1).to_pylist(), history))

    def offsets(self, history: bool | None = None) -> list[int]:
        return [o for offsets, h in self.batches if history in (None, h) for o in offsets]


def rows(first: int, count: int, hour: int = 0) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([at(hour, 0, i % 60) for i in range(count)], pa.timestamp("us", "UTC")),
            "v": pa.array(np.arange(first, first + count), pa.int64()),
        }
    )


def test_a_subscriber_sees_every_batch_once_in_offset_order(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    seen = Recorder()
    s.subscribe(seen, "recorder")

    def append(k: int) -> None:
        for j in range(20):
            if j % 2:
                s.append((at(0, 0, j), k * 1000 + j))
            else:
                s.append_many(rows(k * 1000 + j, 5))

    threads = [threading.Thread(target=append, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.caught_up()
    offsets = seen.offsets()
    assert offsets == list(range(len(s)))  # every offset once, in order across batches
    assert all(not history for _, history in seen.batches)


def test_a_late_subscriber_catches_up_from_files_and_memory_then_goes_on_live(
    folder: Path,
) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts", partition="1h")
        s.append_many(rows(0, 100, hour=0))
        s.append_many(rows(100, 100, hour=5))  # passes hour 0's end: it can be sealed
        assert s.seal() == 1
        s.append((at(5, 30), 200))  # in the buffer when the subscriber joins
        seen = Recorder()
        seen.gate.clear()  # the catch-up waits while appends go on
        s.subscribe(seen, "recorder", from_offset=50)
        appender = threading.Thread(target=lambda: s.append_many(rows(201, 30, hour=5)))
        appender.start()
        seen.gate.set()
        appender.join()
        s.caught_up()
        assert seen.offsets(history=True) == list(range(50, 201))
        assert seen.offsets(history=False) == list(range(201, 231))
        assert seen.offsets() == list(range(50, 231))  # no gap, nothing twice at the join


def test_caught_up_returns_once_the_subscriber_has_seen_every_record(
    mem: rillet.Database,
) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    seen = Recorder()
    s.subscribe(seen, "recorder")
    for i in range(50):
        s.append((at(0, 0, i), i))  # buffered: caught_up ingests them first
        s.caught_up()
        assert seen.offsets()[-1] == i


def test_a_lagging_subscriber_holds_the_appender_back(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    seen = Recorder()
    seen.gate.clear()
    subscription = s.subscribe(seen, "recorder")
    batches = QUEUED + 4
    appender = threading.Thread(
        target=lambda: [s.append_many(rows(10 * k, 10)) for k in range(batches)]
    )
    appender.start()
    # one batch in the subscriber's hands, QUEUED in the queue, one more waiting to go in
    wait_until(lambda: subscription.lag == QUEUED + 2)
    assert appender.is_alive()  # the appender waits: memory stays bounded
    seen.gate.set()
    appender.join()
    s.caught_up()
    assert seen.offsets() == list(range(10 * batches))


def test_the_batches_queued_behind_one_another_go_together_to_observe_many(
    mem: rillet.Database,
) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")

    class Joiner(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[int] = []  # how many batches each observe_many took

        def observe_many(self, batches: list[pa.RecordBatch]) -> None:
            self.gate.wait()
            self.calls.append(len(batches))
            for batch in batches:
                self.batches.append((batch.column(batch.num_columns - 1).to_pylist(), False))

    seen = Joiner()
    seen.gate.clear()
    subscription = s.subscribe(seen, "joiner")
    s.append_many(rows(0, 10))  # taken alone: the thread holds it at the gate
    wait_until(lambda: subscription.lag == 1 and subscription._queue.empty())
    for k in range(1, QUEUED + 1):  # these queue up behind it
        s.append_many(rows(10 * k, 10))
    seen.gate.set()
    s.caught_up()
    assert seen.offsets() == list(range(10 * (QUEUED + 1)))
    assert seen.calls == [QUEUED]  # the first went to observe; the rest in one call
    assert subscription.lag == 0
    s.append_many(rows(100, 10))  # alone in the queue: to observe, as ever
    s.caught_up()
    assert seen.calls == [QUEUED] and seen.offsets() == list(range(10 * (QUEUED + 2)))


def test_unsubscribe_stops_the_batches(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    seen = Recorder()
    subscription = s.subscribe(seen, "recorder")
    s.append_many(rows(0, 10))
    s.unsubscribe(subscription)
    s.append_many(rows(10, 10))
    s.caught_up()
    assert seen.offsets() == list(range(10))


def test_a_failing_batch_stops_neither_the_subscriber_nor_the_appender(
    mem: rillet.Database,
) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    seen = Recorder()

    class Flaky(Recorder):
        def observe(self, batch: pa.RecordBatch, history: bool) -> None:
            if batch.column(1)[0].as_py() == 10:
                raise RuntimeError("a bug in a subscriber")
            seen.observe(batch, history)

    s.subscribe(Flaky(), "flaky")
    for k in range(3):
        s.append_many(rows(10 * k, 10))
    s.caught_up()
    assert seen.offsets() == list(range(10)) + list(range(20, 30))


def test_retention_tells_the_subscribers_what_it_dropped(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream(
            "t", "ts TIMESTAMP, v BIGINT", time_column="ts", partition="1h", retention="2h"
        )
        seen = Recorder()
        s.subscribe(seen, "recorder")
        for hour in range(5):
            s.append_many(rows(10 * hour, 10, hour=hour))
        s.seal()
        assert s.apply_retention() == [us(at(0)), us(at(1))]  # ended 2 h before 04:00:59
        assert seen.forgotten == [us(at(2))]  # the records before the oldest partition kept
        assert seen.offsets() == list(range(50))  # it had seen every batch before


def retained(db: rillet.Database) -> tuple[rillet.Stream, Recorder]:
    """A stream of hours 0 to 4 (ten records each, sealed) whose subscriber is stuck on a
    batch (its gate closed): retention of 2 h may drop hours 0 and 1."""
    s = db.create_stream(
        "t", "ts TIMESTAMP, v BIGINT", time_column="ts", partition="1h", retention="2h"
    )
    seen = Recorder()
    s.subscribe(seen, "recorder")
    seen.gate.clear()
    for hour in range(5):  # one batch in the subscriber's hands, the others queued
        s.append_many(rows(10 * hour, 10, hour=hour))
    s.seal()
    return s, seen


def test_retention_drops_without_holding_the_stream_while_a_subscriber_is_busy(
    folder: Path,
) -> None:
    """Retention drops at once and then waits for the subscriber, holding none of the stream's
    locks: readers and appenders go on; the subscriber forgets the dropped records after
    observing every batch handed over before the drop."""
    with rillet.connect(folder, **MANUAL) as db:
        s, seen = retained(db)
        dropped: list[list[int]] = []
        retention = threading.Thread(target=lambda: dropped.append(s.apply_retention()))
        retention.start()
        try:
            # len() takes the stream's locks: it answers, and sees the drop, while the
            # subscriber is still stuck on its first batch
            assert within(10.0, lambda: wait_until(lambda: len(s) == 30)) == [True]
            assert within(10.0, lambda: s.read(20)["v"]) == [20]
            assert seen.forgotten == []
            assert retention.is_alive()  # apply_retention returns once the subscriber forgot
        finally:
            seen.gate.set()
        retention.join()
        assert dropped == [[us(at(0)), us(at(1))]]
        assert seen.forgotten == [us(at(2))]
        assert seen.seen_when_forgotten == [50]  # every batch handed over before, first
        s.append_many(rows(50, 10, hour=5))
        s.caught_up()
        assert seen.offsets() == list(range(60))


def test_retention_waits_for_a_catch_up_reading_the_files_it_would_delete(
    folder: Path,
) -> None:
    """A late subscriber reads stored batches (files among them) on its own thread: retention
    drops them once it has read them, holding none of the locks a reader needs meanwhile."""
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream(
            "t", "ts TIMESTAMP, v BIGINT", time_column="ts", partition="1h", retention="2h"
        )
        for hour in range(5):
            s.append_many(rows(10 * hour, 10, hour=hour))
        s.seal()
        seen = Recorder()
        seen.gate.clear()
        s.subscribe(seen, "recorder", from_offset=0)  # stuck in its catch-up
        dropped: list[list[int]] = []
        retention = threading.Thread(target=lambda: dropped.append(s.apply_retention()))
        retention.start()
        try:
            assert within(10.0, lambda: len(s)) == [50]
            assert within(10.0, lambda: s.read(0)["v"]) == [0]
        finally:
            seen.gate.set()
        retention.join()
        assert dropped == [[us(at(0)), us(at(1))]]
        assert seen.offsets(history=True) == list(range(50))
        assert seen.forgotten == [us(at(2))]
        assert len(s) == 30


def test_subscribe_takes_a_subscriber_and_from_offset_alone(mem: rillet.Database) -> None:
    """Issue 18 spells it ``Stream.subscribe(subscriber, from_offset)``: the name of the
    thread is the subscriber's class name when none is given."""
    s = mem.create_stream("t", "ts TIMESTAMP, v BIGINT", time_column="ts")
    s.append_many(rows(0, 10))
    seen = Recorder()
    subscription = s.subscribe(seen, from_offset=4)
    s.append_many(rows(10, 3))
    s.caught_up()
    assert seen.offsets(history=True) == [4, 5, 6, 7, 8, 9]
    assert seen.offsets(history=False) == [10, 11, 12]
    assert subscription.name == "recorder"
    s.unsubscribe(subscription)


def test_stored_batches_are_read_ahead_in_order_errors_after_the_batches_before() -> None:
    made: list[int] = []

    def stored() -> Iterator[pa.RecordBatch]:
        for i in range(3 * READ_AHEAD):
            made.append(i)
            yield pa.record_batch({"i": [i]})
        raise OSError("a torn file")

    taken: list[int] = []
    with pytest.raises(OSError, match="a torn file"):
        for batch in _read_ahead(stored(), "test-read"):
            taken.append(batch.column(0)[0].as_py())
    assert taken == list(range(3 * READ_AHEAD))

    made.clear()

    def endless() -> Iterator[pa.RecordBatch]:
        for i in itertools.count():
            made.append(i)
            yield pa.record_batch({"i": [i]})

    reader = _read_ahead(endless(), "test-read")
    assert next(reader).column(0)[0].as_py() == 0
    reader.close()  # the caller stops taking them: the reader stops too
    time.sleep(0.3)
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= READ_AHEAD + 2
