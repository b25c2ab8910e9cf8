"""The monitors of one stream: evaluated on each ingested batch, queried by name.

Definitions live in the catalog; the history of indexes, filters and aggregates is derived
from the stored records, so opening a database rebuilds it from files and log (from each
monitor's first offset on, or from offset 0 with ``backfill=True``).  Here are the monitors
by kind, their definition and removal, and the evaluation of each batch; how they are made
from the catalog (:mod:`~rillet.monitors.build`), their resolutions
(:mod:`~rillet.monitors.resolution`), the judging of triggers
(:mod:`~rillet.monitors.judging`), where alerts go (:mod:`~rillet.monitors.publishing`) and
the queries (:mod:`~rillet.monitors.queries`) have modules of their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa

from rillet.errors import ConflictError, not_found
from rillet.expressions.kernels import Context
from rillet.monitors import build
from rillet.monitors.adhoc import AdHoc
from rillet.monitors.adhoc import Matches as Matches  # its home before adhoc.py
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Alert, Delivery, Webhook
from rillet.monitors.filter import Filter
from rillet.monitors.idle import next_idle_check
from rillet.monitors.index import Index
from rillet.monitors.judging import IdleJudge, judge_triggers
from rillet.monitors.observed import Monitor, Observed
from rillet.monitors.publishing import Publisher, webhook_name
from rillet.monitors.queries import Queries
from rillet.monitors.resolution import (
    automatic_base,
    automatic_resolution,
    check_period,
    check_resolution,
    finer_aggregates,
)
from rillet.monitors.trigger import Trigger
from rillet.query import QueryEngine
from rillet.storage.catalog import Catalog, MonitorEntry
from rillet.subscription import Subscription

if TYPE_CHECKING:
    from rillet.stream import Stream

log = logging.getLogger("rillet")
Clock = Callable[[], float]
M = TypeVar("M", Index, Filter, AggregateMonitor, Trigger)
Table = dict[str, Index] | dict[str, Filter] | dict[str, AggregateMonitor] | dict[str, Trigger]


class MonitorSet(Queries):
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
        self.catalog = catalog
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
    def active(self) -> bool:
        return bool(self.indexes or self.filters or self.aggregates)

    @property
    def delivery(self) -> Delivery:
        """The callbacks and webhooks alerts go to."""
        return self.publisher.delivery

    @property
    def lag(self) -> int:
        """Batches ingested that the monitors have not evaluated yet."""
        return self._subscription.lag if self._subscription is not None else 0

    # -- definitions ------------------------------------------------------------------------

    def _load(self, entry: MonitorEntry) -> None:
        """Make a monitor of the catalog (checked there already) and keep it."""
        if entry.kind == "index":
            self.indexes[entry.name] = build.index_of(entry, self.columns)
        elif entry.kind == "filter":
            self.filters[entry.name] = build.filter_of(entry, self.columns)
        elif entry.kind == "aggregate":
            self.aggregates[entry.name] = self._aggregate_of(entry)
        elif entry.kind == "trigger":
            self.triggers[entry.name] = self._trigger_of(entry)
        else:
            self.delivery.webhooks.append(build.webhook_of(entry))

    def _aggregate_of(self, entry: MonitorEntry) -> AggregateMonitor:
        base = automatic_base(self.stream)  # made finer when a trigger over it needs it
        return build.aggregate_of(entry, self.columns, self.filters, base)

    def _trigger_of(self, entry: MonitorEntry) -> Trigger:
        newest = max(self.watermark, self.stream.watermark)
        return build.trigger_of(entry, self.aggregates, newest)

    def add(self, kind: str, name: str, spec: Mapping[str, object], backfill: bool = False) -> None:
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

    def _add(self, kind: str, name: str, spec: Mapping[str, object], backfill: bool) -> None:
        if kind in ("filter", "aggregate"):
            spec = {**spec, "version": build.SPEC_VERSION}
        offset = 0 if backfill else self.stream.next_offset
        entry = MonitorEntry(kind, name, dict(spec), offset, {})
        if kind == "webhook":
            self._add_webhook(entry)
            return
        if name in self._table(kind):
            raise ConflictError(
                f"{kind} {name!r} already exists on stream {self.stream.name!r}",
                kind=kind,
                name=name,
            )
        # each is checked whole before the catalog sees it
        if kind == "index":
            index = build.index_of(entry, self.columns)
            self._define(self.indexes, entry, index)
            self._replay([index], offset)
        elif kind == "filter":
            filter = build.filter_of(entry, self.columns)
            self._define(self.filters, entry, filter)
            self._replay([filter], offset)
        elif kind == "aggregate":
            aggregate = self._aggregate_of(entry)
            self._define(
                self.aggregates, entry, aggregate, lambda: check_resolution(aggregate, self.stream)
            )
            self._replay([aggregate], offset)
        else:
            self._add_trigger(entry)

    def _add_trigger(self, entry: MonitorEntry) -> None:
        """Its automatic aggregates whose buckets do not tile its period are rebuilt finer
        from the stored records (each from its first offset on); they replace the kept ones
        once the trigger is in the catalog."""
        trigger = self._trigger_of(entry)
        entry.state["checked_through"] = trigger.checked_through
        finer: dict[str, AggregateMonitor] = {}

        def refine() -> None:
            check_period(trigger, self.aggregates)
            finer.update(finer_aggregates(trigger, self.aggregates, self.triggers, self.stream))
            for each in finer.values():
                self._replay([each], each.from_offset)

        self._define(self.triggers, entry, trigger, refine)
        self.aggregates.update(finer)
        self._idle.start().poke()  # its period may be shorter than the others'

    def _add_webhook(self, entry: MonitorEntry) -> None:
        hook = build.webhook_of(entry)
        self.publisher.add_webhook(hook)
        try:
            self.catalog.add_monitor(self.stream.name, entry)
        except Exception:
            self.delivery.webhooks.remove(hook)
            raise

    def _define(
        self,
        table: dict[str, M],
        entry: MonitorEntry,
        monitor: M,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Keep ``monitor`` in ``table`` and in the catalog or, when ``check`` (which may
        read stored records) or the catalog refuses it, in neither."""
        table[entry.name] = monitor
        try:
            if check is not None:
                check()
            self.catalog.add_monitor(self.stream.name, entry)
        except Exception:
            table.pop(entry.name, None)
            raise

    def _table(self, kind: str) -> Table:
        tables: dict[str, Table] = {
            "index": self.indexes,
            "filter": self.filters,
            "aggregate": self.aggregates,
            "trigger": self.triggers,
        }
        return tables[kind]

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
            self.catalog.remove_monitor(self.stream.name, kind, name)
            table.pop(name)
            self._coarsen(names)

    def _coarsen(self, names: list[str]) -> None:
        """The automatic aggregates of a trigger removed go back to the buckets the other
        triggers need, as a restart would make them (the states are merged: nothing is read
        again)."""
        base = automatic_base(self.stream)
        for name in names:
            aggregate = self.aggregates[name]
            wanted = automatic_resolution(aggregate, self.triggers, base)
            if wanted != aggregate.resolution_us:
                self.aggregates[name] = aggregate.coarsened(wanted)

    def remove_webhook(self, url: str, trigger: str | None) -> None:
        with self._lock:
            hook = Webhook(url, trigger)
            self.publisher.check_webhook(hook)
            self.catalog.remove_monitor(self.stream.name, "webhook", webhook_name(hook))
            self.delivery.webhooks.remove(hook)

    # -- evaluation ---------------------------------------------------------------------------

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        """Evaluate every monitor on a batch of the stream (as its subscriber, on the
        subscription's thread); judge the triggers on live batches."""
        if not len(batch):
            return
        with self._lock:
            times = batch.column(self.stream.schema.time_index).cast(pa.int64()).to_numpy()
            self.watermark = max(self.watermark, int(times.max()))
            if self.active:
                monitors: list[Monitor] = [*self.indexes.values(), *self.filters.values()]
                self._evaluate(batch, times, [*monitors, *self.aggregates.values()])
            if self.triggers and not history:
                self.publisher.put(self._judge())
                self._idle.wake()  # the idle thread may wait for records: here they are
        self.publisher.publish()

    def _judge(self, now: float | None = None) -> list[Alert]:
        """The alerts of the windows closed by event time, or by idleness at ``now``
        (the caller holds ``_lock``)."""
        idle = (now, self.stream._last_ingest) if now is not None else None
        return judge_triggers(
            self.triggers, self.aggregates, self.watermark, idle, self.stream.name, self.catalog
        )

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

    def _evaluate(
        self, batch: pa.RecordBatch, times: np.ndarray, monitors: Sequence[Monitor]
    ) -> None:
        seen = Observed(
            batch,
            Context(batch, self.stream.schema.time_column),
            times,
            batch.column(batch.num_columns - 1).to_numpy(),
            {name: each.kernel for name, each in self.filters.items()},
        )
        for monitor in monitors:
            try:
                monitor.observe(seen)
            except Exception as exc:
                # e.g. an overflow in the expression: the batch is stored; the monitor skips it
                monitor.errors += 1
                log.warning(
                    "monitor %r on stream %r skipped a batch: %s",
                    monitor.name,
                    self.stream.name,
                    exc,
                )

    def _replay(self, monitors: Sequence[Monitor], from_offset: int = 0) -> None:
        """Feed the stored records (offsets >= from_offset) to monitors just added."""
        for batch in self.stream.stored(from_offset):
            times = batch.column(self.stream.schema.time_index).cast(pa.int64()).to_numpy()
            self.watermark = max(self.watermark, int(times.max()))
            self._evaluate(batch, times, monitors)

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
