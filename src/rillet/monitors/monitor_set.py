"""The monitors of one stream: evaluated on each ingested batch, queried by name.

Definitions live in the catalog; the history of indexes, filters and aggregates is derived
from the stored records, so opening a database rebuilds it from files and log (from each
monitor's first offset on, or from offset 0 with ``backfill=True``).

Here are the monitors' lifecycle, their addition and removal, and each batch observed; their
parts are layers of their own: the shared state (:mod:`~rillet.monitors.tables`), evaluation
(:mod:`~rillet.monitors.evaluation`), definitions (:mod:`~rillet.monitors.definitions`, made
by :mod:`~rillet.monitors.build`, with :mod:`~rillet.monitors.resolution`), the judging of
triggers (:mod:`~rillet.monitors.judging`), where alerts go
(:mod:`~rillet.monitors.publishing`) and the queries (:mod:`~rillet.monitors.queries`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import ConflictError, not_found
from rillet.monitors.adhoc import AdHoc
from rillet.monitors.adhoc import Matches as Matches  # its home before adhoc.py
from rillet.monitors.alerts import Alert, Webhook
from rillet.monitors.build import Definition, Spec
from rillet.monitors.definitions import Definitions
from rillet.monitors.idle import next_idle_check
from rillet.monitors.judging import IdleJudge, judge_triggers
from rillet.monitors.observed import Monitor
from rillet.monitors.publishing import Publisher, webhook_name
from rillet.monitors.queries import Queries
from rillet.monitors.resolution import automatic_base, automatic_resolution
from rillet.query import QueryEngine
from rillet.storage.catalog import Catalog
from rillet.subscription import Subscription

if TYPE_CHECKING:
    from rillet.stream import Stream

Clock = Callable[[], float]


class MonitorSet(Definitions, Queries):
    """Indexes, filters, aggregates and triggers of one stream, and where alerts go."""

    def __init__(
        self,
        stream: Stream,
        catalog: Catalog,
        clock: Clock,
        alerts: Callable[[], Stream],
        query: QueryEngine | None = None,
    ) -> None:
        self.stream = stream
        self._adhoc = AdHoc(stream, query)  # execute_filter's reading of stored records
        self._catalog = catalog
        self.clock = clock
        self.columns = {c.name: c.type for c in stream.schema.columns}
        self.indexes = {}
        self.filters = {}
        self.aggregates = {}
        self.triggers = {}
        self.publisher = Publisher(stream.name, alerts)
        self.trimmed = False
        self.watermark = -(2**63)
        self._lock = threading.RLock()
        self._subscription: Subscription | None = None
        self._subscribing = threading.Lock()
        self._idle = IdleJudge(
            stream.name, clock, self._lock, lambda: self._subscription, self._judge_idle,
            self.publisher.publish,
        )  # fmt: skip
        entries = catalog.monitors(stream.name)
        for entry in entries:
            self._load(entry)
        # automatic aggregates take the buckets their triggers need before the history is
        # read, so it is read once
        base = automatic_base(stream)
        for name, aggregate in list(self.aggregates.items()):
            wanted = automatic_resolution(aggregate, self.triggers, base)
            if wanted != aggregate.resolution_us:
                self.aggregates[name] = aggregate.at_resolution(wanted)
        if self.active or self.triggers:
            # the history of every monitor is rebuilt from the stored records by the
            # subscription's thread, before the batches ingested from now on
            first = min((e.from_offset for e in entries if e.kind != "webhook"), default=0)
            self._subscription = stream.subscribe(self, "monitors", first)
        if self.triggers:
            self._idle.start()

    @property
    def lag(self) -> int:
        """Batches ingested that the monitors have not evaluated yet."""
        return self._subscription.lag if self._subscription is not None else 0

    # -- definitions ------------------------------------------------------------------------

    def add(self, kind: str, name: str, spec: Spec, backfill: bool = False) -> None:
        """Define a monitor; on any error nothing is defined.  Past data with ``backfill``.

        Holds the stream's ingest lock, then this set's, the order ingestion takes them in:
        no batch is observed while the new monitor replays what is stored.
        """
        with self._subscribing:
            if self._subscription is None and kind != "webhook":
                # from now on the stream hands its batches over (a stream without monitors
                # hands nothing to a thread); with none defined yet, they judge nothing
                self._subscription = self.stream.subscribe(self, "monitors")
        self.caught_up()
        with self.stream.paused():
            with self._lock:
                self._add(kind, name, spec, backfill)
                if kind == "trigger":  # its period may be shorter than the others'
                    self._idle.start().poke()

    def definitions(self) -> list[Definition]:
        """The stream's indexes, filters, aggregates and triggers as defined (webhooks are
        left out: their URLs may carry secrets), in the order they were made."""
        return [
            Definition(entry.kind, entry.name, dict(entry.spec))
            for entry in self._catalog.monitors(self.stream.name)
            if entry.kind != "webhook"
        ]

    def remove(self, kind: str, name: str) -> None:
        name = name.lower() if kind != "index" else name
        with self._lock:
            table = self._table(kind)
            if name not in table:
                raise not_found(kind, name, table, f" on stream {self.stream.name!r}")
            users = []
            if kind == "filter":
                users = [a.name for a in self.aggregates.values() if a.filter_name == name]
            if kind == "aggregate":
                users = [t.name for t in self.triggers.values() if name in t.aggregate_names]
            if users:
                raise ConflictError(
                    f"{kind} {name!r} is used by {', '.join(sorted(users))}; remove those first",
                    kind=kind,
                    name=name,
                )
            names = self.triggers[name].aggregate_names if kind == "trigger" else []
            self._catalog.remove_monitor(self.stream.name, kind, name)
            table.pop(name)
            self._coarsen(names)

    def remove_webhook(self, url: str, trigger: str | None) -> None:
        with self._lock:
            hook = Webhook(url, trigger)
            self.publisher.check_webhook(hook)
            self._catalog.remove_monitor(self.stream.name, "webhook", webhook_name(hook))
            self.delivery.webhooks.remove(hook)

    # -- evaluation ---------------------------------------------------------------------------

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        """Evaluate every monitor on a batch of the stream (as its subscriber, on the
        subscription's thread); judge the triggers on live batches."""
        self._observe([batch], history)

    def observe_many(self, batches: list[pa.RecordBatch]) -> None:
        """Live batches that queued up while the monitors worked: joined into one (of the
        columns the monitors read), evaluated once and the triggers judged once, which
        costs far less than a batch at a time; one at a time where that would judge a
        window differently."""
        with self._lock:
            if self._judged_alike(batches):
                self._observe(batches, False)
                return
            for batch in batches:
                self._observe([batch], False)

    def _judged_alike(self, batches: list[pa.RecordBatch]) -> bool:
        """Whether judging the triggers once after ``batches`` raises the alerts judging
        them after each would: no batch holds a record of a window that event time had
        closed before it (a late record: judged one at a time, its window's alert has gone
        out without it)."""
        periods = {trigger.period_us for trigger in self.triggers.values()}
        if not periods:
            return True
        closed = None  # event time before the batch (the first one's alerts come after it)
        for batch in batches:
            span = pc.min_max(batch.column(self.stream.schema.time_index).cast(pa.int64()))
            low, high = span["min"].as_py(), span["max"].as_py()
            if low is None:
                continue
            if closed is not None and any((low // p + 1) * p <= closed for p in periods):
                return False
            closed = high if closed is None else max(closed, high)
        return True

    def _observe(self, batches: list[pa.RecordBatch], history: bool) -> None:
        with self._lock:
            batch = batches[0] if len(batches) == 1 else self._joined(batches)
            if not len(batch):
                return
            times = batch.column(self.stream.schema.time_column).cast(pa.int64()).to_numpy()
            self.watermark = max(self.watermark, int(times.max()))
            if self.active:  # the triggers after the aggregates they read
                monitors: list[Monitor] = [*self.indexes.values(), *self.filters.values()]
                monitors += [*self.aggregates.values(), *self.triggers.values()]
                self._evaluate(batch, times, monitors)
            if self.triggers and not history:
                self.publisher.put(self._judge())
                self._idle.wake()  # the idle thread may wait for records: here they are
        self.publisher.publish()

    def _judge(self, now: float | None = None) -> list[Alert]:
        """The alerts of the windows closed by event time, or by idleness at ``now``
        (the caller holds ``_lock``)."""
        idle = (now, self.stream._last_ingest) if now is not None else None
        return judge_triggers(self.triggers, self.aggregates, idle, self.stream.name, self._catalog)

    def _judge_idle(self, now: float) -> float | None:
        """The idle thread's look at ``now``, under ``_lock``: the alerts of the windows
        idleness closed go to the outbox; when to look again (None: when records come)."""
        if self.triggers:
            self.publisher.put(self._judge(now))
        return next_idle_check(
            [t.period_us for t in self.triggers.values()],
            self.watermark,
            self.stream._last_ingest,
            now,
        )

    def forget_before(self, start_us: int) -> None:
        """Forget the matches and states of records before ``start_us``, which retention
        dropped (on the monitors' thread, after the batches handed over before the drop)."""
        with self._lock:
            self.trimmed = True  # the indexes still hold the dropped offsets
            for each in self.filters.values():
                each.drop_before(start_us)
            for aggregate in self.aggregates.values():
                aggregate.drop_before(start_us)

    def close(self) -> None:
        """Stop the idle thread, deliver what alerts remain (the stream has closed its
        subscriptions)."""
        self._idle.close()
        self.publisher.close()
