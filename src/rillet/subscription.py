"""Subscribers of a stream: each ingested batch, with its offsets, handed over in order.

A stream's appender hands every batch it ingests to each :class:`Subscription` and goes on;
the subscription's own thread calls its subscriber (monitors now, flows next), so writing
the log and the subscribers' work overlap, each mostly in C++ without the GIL.  A queue of
a few batches bounds how far a subscriber may fall behind: past that, the appender waits
(back-pressure).  :meth:`Subscription.wait` returns once every batch handed over before the
call has been observed, which is how a reader sees its own writes.  A subscriber that has
``observe_many`` (:class:`BatchesSubscriber`) gets the live batches that queued up while it
worked in one call.

What retention drops reaches the subscriber the same way: :meth:`Subscription.forget_before`
queues it behind the batches handed over before (never waiting, so retention holds no lock
of the stream while the subscriber works), and the subscriber's thread tells it in order.

A subscriber that starts behind the stream (a monitor rebuilding its history on open, a flow
over stored records) first observes the stored batches from its offset up to the offset
where it joined, read without any lock of the stream, a few batches ahead on a reader
thread (decoding Parquet releases the GIL, so it overlaps the subscriber's work); the live
batches from that offset on come after them.  The boundary is an offset, never a time.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

log = logging.getLogger("rillet")
QUEUED = 4  # batches a subscriber may fall behind the appender
READ_AHEAD = 4  # stored batches read ahead of a subscriber catching up


class Subscriber(Protocol):
    """What a stream hands its batches to."""

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        """Take one batch of the stream's storage columns (the last one ``_offset``); batches
        come in offset order, none twice.  ``history``: the batch was stored before the
        subscriber joined (its catch-up), else it was just ingested."""

    def forget_before(self, start_us: int) -> None:
        """Retention dropped every record with an event time before ``start_us`` (epoch
        microseconds); the subscriber has seen every batch handed over before."""


class BatchesSubscriber(Subscriber, Protocol):
    """A subscriber that takes the live batches queued behind one another in one call
    (the monitors: their cost a batch falls as batches grow, so a subscriber that fell
    behind catches up faster)."""

    def observe_many(self, batches: list[pa.RecordBatch]) -> None:
        """Take the live batches, in offset order, as if each were given to ``observe``."""


class CatchingUpSubscriber(Subscriber, Protocol):
    """A subscriber told when its catch-up was read (a flow putting held stored batches in
    order): on its own thread, before a reader waiting for the catch-up returns."""

    def history_read(self) -> None:
        """Every stored batch of the catch-up was observed (or reading them failed)."""


@dataclass(frozen=True, slots=True)
class _Forget:
    """A retention's drop, queued behind the batches that held the dropped records."""

    start_us: int


class Subscription:
    """A subscriber's queue and thread, started on the first batch it gets.

    Examples:
        >>> seen = []
        >>> class Count:
        ...     def observe(self, batch, history):
        ...         seen.append((len(batch), history))
        ...     def forget_before(self, start_us):
        ...         pass
        >>> sub = Subscription(Count(), "count", "s", [pa.record_batch({"_offset": [0, 1]})])
        >>> sub.hand(pa.record_batch({"_offset": [2]}))
        >>> sub.wait()
        >>> seen
        [(2, True), (1, False)]
        >>> sub.close()
    """

    def __init__(
        self,
        subscriber: Subscriber,
        name: str,
        stream: str,
        history: Iterable[pa.RecordBatch] | None = None,
    ) -> None:
        self.subscriber = subscriber
        self.name = name
        self.stream = stream
        self._history: Iterable[pa.RecordBatch] | None = history
        # unbounded, so a drop is queued without waiting; the batches in it are bounded by
        # _room, taken by the appender before a put and given back when the batch leaves
        self._queue: queue.Queue[pa.RecordBatch | _Forget | None] = queue.Queue()
        self._room = threading.Semaphore(QUEUED)
        self._thread: threading.Thread | None = None
        # set once the stored batches of the catch-up were observed (at once without one)
        self._history_read = threading.Event()
        # batches handed over, and observed: a reader waits for the batches handed over
        # before it, not for the thread to be idle (under steady ingest it never is)
        self._handed = 0
        self._done = 0
        self._closed = False  # after close, the appender calls the subscriber itself
        self._idle = threading.Condition()
        if history is not None:
            self._start(catching_up=True)
        else:
            self._history_read.set()

    @property
    def lag(self) -> int:
        """Batches handed over and not yet observed (the catch-up counts as one)."""
        with self._idle:
            return self._handed - self._done

    def hand(self, batch: pa.RecordBatch) -> None:
        """Hand over a batch just ingested (the caller holds the stream's ingest lock, so
        batches come in offset order); waits while the queue is full."""
        with self._idle:
            inline = self._closed
            if not inline:
                if self._thread is None:
                    self._start(catching_up=False)
                self._handed += 1
        if inline:
            self.subscriber.observe(batch, False)
            return
        try:
            self._room.acquire()
            self._queue.put(batch)
        except BaseException:  # e.g. Ctrl-C while the queue is full: not handed over
            with self._idle:
                self._handed -= 1
                self._idle.notify_all()
            raise

    def forget_before(self, start_us: int) -> None:
        """Tell the subscriber that retention dropped the records before ``start_us``, on its
        thread, once it has observed the batches handed over before this call; returns at
        once.  The caller holds the stream's ingest lock, so no batch comes in between."""
        with self._idle:
            inline = self._closed
            if not inline:
                if self._thread is None:
                    self._start(catching_up=False)
                self._handed += 1  # a reader after the drop waits for it, too
        if inline:
            self.subscriber.forget_before(start_us)
            return
        self._queue.put(_Forget(start_us))

    @property
    def catching_up(self) -> bool:
        """Whether the subscriber is still observing the stored batches it started from."""
        return not self._history_read.is_set()

    def wait_history(self) -> None:
        """Return once the catch-up (if any) has been observed."""
        self._history_read.wait()

    def _start(self, catching_up: bool) -> None:
        if catching_up:
            self._handed += 1  # the catch-up is one piece of work a reader waits for
        self._thread = threading.Thread(
            target=self._work, name=f"rillet-{self.name}-{self.stream}", daemon=True
        )
        self._thread.start()

    def _work(self) -> None:
        history, self._history = self._history, None
        if history is not None:
            try:
                for batch in _read_ahead(history, f"rillet-{self.name}-{self.stream}-read"):
                    self.subscriber.observe(batch, True)
            except Exception:
                log.exception("%s of stream %r failed catching up", self.name, self.stream)
            finally:
                self._caught_up()
        many = getattr(self.subscriber, "observe_many", None)
        held: list[pa.RecordBatch | _Forget | None] = []
        while (item := held.pop() if held else self._queue.get()) is not None:
            batches: list[pa.RecordBatch] = []
            try:
                if isinstance(item, _Forget):
                    self.subscriber.forget_before(item.start_us)
                    continue
                self._room.release()
                batches.append(item)
                while many is not None and not held:  # every batch queued behind it
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, pa.RecordBatch):
                        self._room.release()
                        batches.append(more)
                    else:
                        held.append(more)
                if len(batches) > 1 and many is not None:
                    many(batches)
                else:
                    self.subscriber.observe(item, False)
            except Exception:  # a failing batch must never stop the batches after it
                log.exception("%s of stream %r failed on a batch", self.name, self.stream)
            finally:
                for _ in batches or [item]:
                    self._finished()

    def _caught_up(self) -> None:
        """The catch-up was read: the subscriber is told, then the readers waiting for it
        (what it does then is part of the catch-up a reader waits for)."""
        try:
            told = getattr(self.subscriber, "history_read", None)
            if told is not None:
                told()
        except Exception:
            log.exception("%s of stream %r failed after catching up", self.name, self.stream)
        finally:
            self._history_read.set()
            self._finished()

    def _finished(self) -> None:
        with self._idle:
            self._done += 1
            self._idle.notify_all()

    def wait(self) -> None:
        """Return once every batch handed over before this call has been observed.

        Never call it from the subscriber itself, or holding a lock its ``observe`` takes.
        """
        with self._idle:
            target = self._handed
            # min: a batch whose hand-over failed is taken back from _handed
            self._idle.wait_for(lambda: self._done >= min(target, self._handed))

    def close(self) -> None:
        """Observe what is queued and stop the thread; later batches are observed by the
        appender that hands them over."""
        with self._idle:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END = object()


def _read_ahead(
    batches: Iterable[pa.RecordBatch], name: str
) -> Generator[pa.RecordBatch, None, None]:
    """``batches``, read on a thread of their own up to READ_AHEAD ahead of the caller; a
    reading error is raised here, where the batches before it were taken.  Once the caller
    stops taking them, the reader stops too."""
    box: queue.Queue[object] = queue.Queue(READ_AHEAD)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as exc:  # the caller's to handle
            put(_Failed(exc))
            return
        put(_END)

    threading.Thread(target=read, name=name, daemon=True).start()
    try:
        while (item := box.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            assert isinstance(item, pa.RecordBatch)
            yield item
    finally:
        stop.set()
