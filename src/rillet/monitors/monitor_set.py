"""The monitors of one stream: evaluated on each ingested batch, queried by name.

Definitions live in the catalog; the history of indexes, filters and aggregates is derived
from the stored records, so opening a database rebuilds it from files and log (from each
monitor's first offset on, or from offset 0 with ``backfill=True``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from rillet.aggregates import AggregateValue
from rillet.clock import Alarm
from rillet.errors import ConfigError, ConflictError, NotFoundError, not_found
from rillet.expressions.kernels import Context, compile
from rillet.monitors.adhoc import AdHoc
from rillet.monitors.adhoc import Matches as Matches  # its home before adhoc.py
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Alert, Delivery, Webhook
from rillet.monitors.filter import Filter, predicate
from rillet.monitors.idle import next_idle_check
from rillet.monitors.index import Index
from rillet.monitors.observed import Monitor, Observed
from rillet.monitors.plan import candidates, exact
from rillet.monitors.trigger import Trigger
from rillet.query import QueryEngine
from rillet.storage.catalog import Catalog, MonitorEntry
from rillet.subscription import Subscription
from rillet.time import bound_us, duration_text, parse_duration_us

if TYPE_CHECKING:
    from rillet.stream import Stream

log = logging.getLogger("rillet")
Clock = Callable[[], float]
KINDS = ("index", "filter", "aggregate", "trigger", "webhook")
AUTOMATIC_US = 1_000_000  # the buckets of an automatic aggregate no trigger needs finer
# an automatic aggregate is made no finer than this (a 1 ms trigger, or one of 1500 us,
# whose windows are whole 500 us buckets); finer buckets must be asked for by name: one
# state a record is rarely what a period of "1001us" meant
FINEST_AUTOMATIC_US = 1_000
# the catalog spec of a filter or aggregate since resolutions became automatic: "resolution"
# holds what was given, None when nothing was (see _given_resolution)
SPEC_VERSION = 2


class MonitorSet:
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
        self.alerts_stream = alerts
        self.columns = {c.name: c.type for c in stream.schema.columns}
        self.indexes: dict[str, Index] = {}
        self.filters: dict[str, Filter] = {}
        self.aggregates: dict[str, AggregateMonitor] = {}
        self.triggers: dict[str, Trigger] = {}
        self.delivery = Delivery()
        self.trimmed = False  # retention dropped records since open
        self.watermark = -(2**63)
        self._lock = threading.RLock()
        # alerts judged under _lock, in order, stored and delivered after it is released by
        # whichever thread holds _publishing (one at a time, so the order is kept)
        self._outbox: deque[list[Alert]] = deque()
        self._publishing = threading.Lock()
        self._subscription: Subscription | None = None
        self._subscribing = threading.Lock()
        # the thread that judges the triggers of an idle stream, and what it sleeps on, made
        # with the first trigger
        self._alarm: Alarm | None = None
        self._idle_thread: threading.Thread | None = None
        # when it next wakes by the clock (None: only when poked), kept under _lock
        self._idle_until: float | None = None
        entries = catalog.monitors(stream.name)
        for entry in entries:
            self._build(entry)
        # automatic aggregates take the buckets their triggers need before the history is
        # read, so it is read once
        for name, aggregate in list(self.aggregates.items()):
            wanted = self._automatic_resolution(aggregate)
            if wanted != aggregate.resolution_us:
                self.aggregates[name] = aggregate.at_resolution(wanted)
        if self.active or self.triggers:
            # the history of every monitor is rebuilt from the stored records by the
            # subscription's thread, before the batches ingested from now on
            first = min((e.from_offset for e in entries if e.kind != "webhook"), default=0)
            self._subscription = stream.subscribe(self, "monitors", first)
        if self.triggers:
            self._start_idle()

    @property
    def active(self) -> bool:
        return bool(self.indexes or self.filters or self.aggregates)

    @property
    def _last_ingest(self) -> float:
        return self.stream._last_ingest

    @property
    def lag(self) -> int:
        """Batches ingested that the monitors have not evaluated yet."""
        return self._subscription.lag if self._subscription is not None else 0

    # -- definitions ------------------------------------------------------------------------

    def _build(self, entry: MonitorEntry) -> Any:
        spec = entry.spec
        if entry.kind == "index":
            monitor: Any = Index(
                entry.name, self.columns[entry.name], spec.get("bucket_size"), entry.from_offset
            )
            self.indexes[entry.name] = monitor
        elif entry.kind == "filter":
            given = _given_resolution(entry)
            res = None if given is None else parse_duration_us(given, "resolution")
            monitor = Filter(entry.name, spec["expression"], self.columns, res, entry.from_offset)
            self.filters[entry.name] = monitor
        elif entry.kind == "aggregate":
            source = spec.get("filter")
            given = _given_resolution(entry)
            width = self._automatic_base()  # made finer when a trigger over it needs it
            fixed_by = None
            inherited = self.filters[source].resolution_us if source else None
            if given is not None:  # its own, whatever its filter's
                width = parse_duration_us(given, "resolution")
                fixed_by = "aggregate"
            elif inherited is not None:
                width, fixed_by = inherited, "filter"
            monitor = AggregateMonitor(
                entry.name,
                source,
                spec["expression"],
                self.columns,
                width,
                entry.from_offset,
                fixed_by,
            )
            self.aggregates[entry.name] = monitor
        elif entry.kind == "trigger":
            period = parse_duration_us(spec["period"], "period")
            checked = int(entry.state.get("checked_through", self._initial_window(period)))
            monitor = Trigger(entry.name, spec["condition"], period, self.aggregates, checked)
            self.triggers[entry.name] = monitor
        else:
            monitor = Webhook(spec["url"], spec.get("trigger"))
            self.delivery.webhooks.append(monitor)
        return monitor

    def _initial_window(self, period: int) -> int:
        """A new trigger judges the window in progress and later ones, not older history."""
        newest = max(self.watermark, self.stream.watermark)
        return newest // period * period if newest > -(2**62) else -(2**62)

    def add(self, kind: str, name: str, spec: dict[str, Any], backfill: bool = False) -> None:
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
            self._add(kind, name, spec, backfill)

    def _add(self, kind: str, name: str, spec: dict[str, Any], backfill: bool) -> None:
        with self._lock:
            existing = self._table(kind)
            hook = Webhook(spec["url"], spec.get("trigger")) if kind == "webhook" else None
            if hook is not None and hook in self.delivery.webhooks:
                raise ConflictError(
                    f"webhook {hook.url!r} ({_for_trigger(hook.trigger)}) already exists on "
                    f"stream {self.stream.name!r}",
                    kind=kind,
                    name=name,
                )
            if name in existing:
                raise ConflictError(
                    f"{kind} {name!r} already exists on stream {self.stream.name!r}",
                    kind=kind,
                    name=name,
                )
            if kind in ("filter", "aggregate"):
                spec = {**spec, "version": SPEC_VERSION}
            state: dict[str, Any] = {}
            entry = MonitorEntry(
                kind, name, spec, 0 if backfill else self.stream.next_offset, state
            )
            monitor = self._build(entry)  # checks everything before the catalog sees it
            finer: dict[str, AggregateMonitor] = {}
            try:
                self._check_widths(kind, monitor)
                if kind == "trigger":
                    finer = self._refined(monitor)
            except Exception:  # a refused width, or stored records unreadable in _refined
                self._forget(kind, name, monitor)
                raise
            if kind == "trigger":
                entry = MonitorEntry(
                    kind,
                    name,
                    spec,
                    entry.from_offset,
                    {"checked_through": monitor.checked_through},
                )
            try:
                self.catalog.add_monitor(self.stream.name, entry)
            except Exception:
                self._forget(kind, name, monitor)
                raise
            if kind in ("index", "filter", "aggregate"):
                self._replay([monitor], entry.from_offset)
            self.aggregates.update(finer)
            if kind == "trigger":  # its period may be shorter than the others'
                self._start_idle().poke()

    def _automatic_base(self) -> int:
        """An automatic aggregate's buckets without triggers: 1 s, or what divides both a
        second and the partitions where retention drops them (500 ms for 1500 ms ones)."""
        options = self.stream.options
        if options.retention or options.max_bytes:
            return math.gcd(AUTOMATIC_US, self.stream.granularity.width_us or AUTOMATIC_US)
        return AUTOMATIC_US

    def _automatic_resolution(self, aggregate: AggregateMonitor) -> int:
        """The resolution an aggregate keeps: the one given, or, when automatic, 1 s made
        as fine as the periods of the triggers over it need (their greatest common
        divisor: 100 ms for triggers of 100 ms and 1 s, 500 ms for one of 1500 ms)."""
        if aggregate.fixed_by is not None:
            return aggregate.resolution_us
        periods = (
            t.period_us for t in self.triggers.values() if aggregate.name in t.aggregate_names
        )
        return math.gcd(self._automatic_base(), *periods)

    def _refined(self, trigger: Trigger) -> dict[str, AggregateMonitor]:
        """The automatic aggregates of a new trigger (installed in ``self.triggers``) whose
        buckets do not tile its period, rebuilt finer from the stored records (each from its
        first offset on); they replace the kept ones once the trigger is in the catalog."""
        wanted = {}
        for name in trigger.aggregate_names:
            aggregate = self.aggregates[name]
            resolution = self._automatic_resolution(aggregate)
            if resolution == aggregate.resolution_us:
                continue
            if resolution < FINEST_AUTOMATIC_US:
                raise ConfigError(
                    f"period of trigger {trigger.name!r} ({duration_text(trigger.period_us)}) "
                    f"would need buckets of {duration_text(resolution)} in aggregate {name!r}; "
                    f"automatic resolutions stop at {duration_text(FINEST_AUTOMATIC_US)}: use a "
                    f"period of whole milliseconds, or re-create aggregate {name!r} with "
                    f"resolution={duration_text(resolution)!r}",
                    kind="trigger",
                    name=trigger.name,
                )
            wanted[name] = aggregate.at_resolution(resolution)
        for finer in wanted.values():
            self._check_widths("aggregate", finer)
        for finer in wanted.values():
            self._replay([finer], finer.from_offset)
        return wanted

    def _check_widths(self, kind: str, monitor: Any) -> None:
        """Buckets must tile what cuts them: with retention, which drops whole partitions,
        an aggregate's resolution must divide the partitions (for months and years, a day);
        a trigger's period must be whole buckets of each of its aggregates."""
        options = self.stream.options
        if kind == "aggregate" and (options.retention or options.max_bytes):
            granularity = self.stream.granularity
            if (granularity.width_us or 86_400_000_000) % monitor.resolution_us:
                given = duration_text(monitor.resolution_us)
                if monitor.fixed_by == "filter":
                    given += f", given to filter {monitor.filter_name!r}"
                raise ConfigError(
                    f"resolution of aggregate {monitor.name!r} ({given}) must divide the "
                    f"partitions ({granularity.text}{'' if granularity.width_us else ', so a day'}"
                    f") of stream {self.stream.name!r}: retention drops whole partitions; give "
                    f"the aggregate a resolution that does, or none (automatic)",
                    kind=kind,
                    name=monitor.name,
                )
        if kind == "trigger":
            for name in monitor.aggregate_names:
                aggregate = self.aggregates[name]
                resolution = aggregate.resolution_us
                if monitor.period_us % resolution == 0 or aggregate.fixed_by is None:
                    continue  # an automatic aggregate is made finer (_refined)
                period = monitor.period_us
                text = duration_text(resolution)
                finer = f"resolution={duration_text(math.gcd(resolution, period))!r}"
                if aggregate.fixed_by == "aggregate":
                    held = f"which was given resolution={text!r}"
                    remedy = f"{finer} or without one (automatic)"
                else:
                    held = f"which takes resolution={text!r} from filter {aggregate.filter_name!r}"
                    remedy = f"{finer}, or filter {aggregate.filter_name!r} without a resolution"
                raise ConfigError(
                    f"period of trigger {monitor.name!r} ({duration_text(period)}) must be whole "
                    f"buckets of aggregate {name!r}, {held}: use a period that is a multiple of "
                    f"{text}, or re-create aggregate {name!r} with {remedy}",
                    kind=kind,
                    name=monitor.name,
                )

    def _table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "index": self.indexes,
            "filter": self.filters,
            "aggregate": self.aggregates,
            "trigger": self.triggers,
        }
        return tables.get(kind, {})

    def _forget(self, kind: str, name: str, monitor: Any) -> None:
        if kind == "webhook":
            self.delivery.webhooks.remove(monitor)
        else:
            self._table(kind).pop(name, None)

    def remove(self, kind: str, name: str) -> None:
        name = name.lower() if kind != "index" else name
        with self._lock:
            table: dict[str, Any] = self._table(kind)
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
            self.catalog.remove_monitor(self.stream.name, kind, name)
            removed = table.pop(name)
            if kind == "trigger":
                # its automatic aggregates go back to the buckets the other triggers need, as
                # a restart would make them (the states are merged: nothing is read again)
                for each in removed.aggregate_names:
                    aggregate = self.aggregates[each]
                    wanted = self._automatic_resolution(aggregate)
                    if wanted != aggregate.resolution_us:
                        self.aggregates[each] = aggregate.coarsened(wanted)

    def remove_webhook(self, url: str, trigger: str | None) -> None:
        with self._lock:
            hook = Webhook(url, trigger)
            if hook not in self.delivery.webhooks:
                same_url = [h for h in self.delivery.webhooks if h.url == url]
                if same_url:
                    have = ", ".join(_for_trigger(h.trigger) for h in same_url)
                    raise NotFoundError(
                        f"unknown webhook {url!r} for {_for_trigger(trigger)} on stream "
                        f"{self.stream.name!r}; it has one for {have}",
                        kind="webhook", name=url, suggestion=None,
                    )  # fmt: skip
                raise not_found("webhook", url, [h.url for h in self.delivery.webhooks])
            self.catalog.remove_monitor(self.stream.name, "webhook", _webhook_name(url, trigger))
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
                self._evaluate(
                    batch,
                    times,
                    list(self.indexes.values())
                    + list(self.filters.values())
                    + list(self.aggregates.values()),
                )
            if self.triggers and not history:
                self._check_triggers()
                if self._idle_until is None and self._alarm is not None:
                    self._alarm.poke()  # the idle thread waits for records: here they are
        self._publish()

    def caught_up(self) -> None:
        """Wait until the monitors have seen every record appended so far.

        Never call it holding this set's lock: the subscription's thread needs it.
        """
        self.stream.caught_up()

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

    # -- idleness -------------------------------------------------------------------------

    def _start_idle(self) -> Alarm:
        """Start the thread that judges the triggers when the stream goes idle (once)."""
        if self._alarm is not None:
            return self._alarm
        self._alarm = alarm = Alarm(self.clock)
        alarm.poke()  # a first look: a stream opened idle closes its windows, too
        self._idle_thread = threading.Thread(
            target=self._judge_idle,
            args=(alarm,),
            name=f"rillet-idle-{self.stream.name}",
            daemon=True,
        )
        self._idle_thread.start()
        return alarm

    def _judge_idle(self, alarm: Alarm) -> None:
        """The idle thread: sleeps until a trigger's whole period after the last ingest by
        the clock (or until records come when none is pending), then judges the windows
        that idleness closed, as :meth:`_check_triggers` says (when: rillet.monitors.idle)."""
        until: float | None = None
        while alarm.sleep(until):
            try:
                subscription = self._subscription
                if subscription is not None and subscription.lag:
                    subscription.wait()  # not idle: the records handed over are judged first
                with self._lock:
                    now = self.clock()
                    if self.triggers:
                        self._check_triggers(now)
                    until = self._idle_until = next_idle_check(
                        [t.period_us for t in self.triggers.values()],
                        self.watermark,
                        self._last_ingest,
                        now,
                    )
                self._publish()
            except Exception:  # keep judging; the next records wake it again
                log.exception("idle triggers of stream %r failed", self.stream.name)
                with self._lock:
                    until = self._idle_until = None

    def _check_triggers(self, now: float | None = None) -> None:
        """Judge the windows that closed: event time passed their end or, when ``now`` is
        given, the stream has been idle for a whole period of that trigger.  The caller holds
        ``_lock``; the alerts wait in the outbox for :meth:`_publish`, called after it."""
        fired: list[Alert] = []
        idle_us = (now - self._last_ingest) * 1e6 if now is not None else -1.0
        for trigger in self.triggers.values():
            closed = self.watermark
            if now is not None:  # the idle thread's check: only idleness closes more windows
                if idle_us < trigger.period_us:
                    continue
                closed = max(closed, min(int(now * 1e6), self.watermark + trigger.period_us))
            try:
                windows = trigger.due(self.aggregates, closed)
                if not windows:
                    continue
                alerts = trigger.evaluate(self.aggregates, windows, self.stream.name)
            except Exception as exc:  # a trigger must never fail ingestion
                trigger.errors += 1
                log.warning(
                    "trigger %r on stream %r failed: %s", trigger.name, self.stream.name, exc
                )
                continue
            fired.extend(alerts)
            # saved when alerts fired (a restart must not raise them again), else at most
            # once a second: re-judging a quiet window after a crash raises nothing new
            if not alerts and time.monotonic() - trigger.saved_at < 1.0:
                continue
            trigger.saved_at = time.monotonic()
            try:
                self.catalog.set_monitor_state(
                    self.stream.name,
                    "trigger",
                    trigger.name,
                    {"checked_through": trigger.checked_through},
                )
            except Exception as exc:  # e.g. a full disk: the appender's records are stored
                log.error("trigger %r: state not saved: %s", trigger.name, exc)
        if fired:
            self._outbox.append(fired)

    def _publish(self) -> None:
        """Store the alerts judged so far in ``<stream>.alerts`` and hand them to delivery,
        in the order judged; called holding no lock of the monitors (a slow store holds up
        no query nor definition; the alerts stream's locks come after this set's)."""
        with self._publishing:
            while self._outbox:
                fired = self._outbox.popleft()
                try:
                    self.alerts_stream().append_many(
                        {
                            "time": [a.time for a in fired],
                            "trigger": [a.trigger for a in fired],
                            "condition": [a.condition for a in fired],
                            "aggregate": [a.aggregate for a in fired],
                            "value": [_as_float(a.value) for a in fired],
                        }
                    )
                except Exception as exc:  # the alerts still reach callbacks and webhooks
                    log.error("alerts of stream %r not stored: %s", self.stream.name, exc)
                self.delivery.send(fired)

    # -- queries ----------------------------------------------------------------------------------

    def query_filter(self, name: str, start: Any, end: Any) -> Matches:
        name = name.lower()
        self.caught_up()  # records appended just before are monitored, too
        with self._lock:
            found = self.filters.get(name)
            if found is None:
                raise not_found("filter", name, self.filters, f" on stream {self.stream.name!r}")
            offsets = found.offsets(_us(start), _us(end))
        return Matches(self.stream, offsets)

    def get_aggregate(self, name: str, start: Any, end: Any) -> AggregateValue:
        name = name.lower()
        self.caught_up()
        with self._lock:
            found = self.aggregates.get(name)
            if found is None:
                raise not_found(
                    "aggregate", name, self.aggregates, f" on stream {self.stream.name!r}"
                )
            return found.value(_us(start), _us(end))

    def execute_filter(self, expression: str, start: Any, end: Any) -> Matches:
        """Records matching an ad-hoc predicate.

        With indexes that cover the stream, only their candidate records are read and the
        predicate decides each; where the indexes answer the predicate exactly and no time
        range is given, no record is read.  Otherwise the predicate is pushed down: DuckDB
        evaluates its rendering over the sealed files of the time range (skipping row groups
        by their statistics), and the Arrow kernel evaluates it over the records in memory
        (:mod:`rillet.monitors.adhoc`, without this set's lock).
        """
        node = predicate(expression, self.columns)
        kernel = compile(node)
        low, high = _us(start), _us(end)
        self.caught_up()
        with self._lock:
            candidate = candidates(node, self.indexes)
            covered = candidate is not None and all(
                i.from_offset == 0 for i in self.indexes.values()
            )
            answered = (
                covered
                and not self.trimmed
                and low is None
                and high is None
                and exact(node, self.indexes)
            )
        if answered:
            assert candidate is not None
            return Matches(self.stream, candidate)
        chosen = candidate if covered else None
        return Matches(self.stream, self._adhoc.matching(node, kernel, low, high, chosen))

    def get_alerts(self, start: Any, end: Any, trigger: str | None) -> list[Alert]:
        trigger = trigger.lower() if trigger is not None else None
        self.caught_up()  # alerts of the records appended before are raised, too
        if trigger is not None and trigger not in self.triggers:
            raise not_found("trigger", trigger, self.triggers, f" on stream {self.stream.name!r}")
        alerts = []
        for rec in self.alerts_stream().scan(start, end):
            if trigger is None or rec["trigger"] == trigger:
                alerts.append(
                    Alert(
                        rec["trigger"],
                        rec["time"],
                        rec["value"],
                        rec["condition"],
                        rec["aggregate"] or "",
                        self.stream.name,
                    )
                )
        return alerts

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
        if self._alarm is not None:
            self._alarm.close()
        thread, self._idle_thread = self._idle_thread, None
        if thread is not None:
            thread.join()
        self.delivery.close()


def _given_resolution(entry: MonitorEntry) -> str | None:
    """The resolution given to a filter or an aggregate, None when none was.

    Older catalogs (specs without "version") stored "1s", the default, whether it was given
    or not: it is read as not given, which opens the same (an automatic aggregate is 1 s
    until a finer trigger comes, and those catalogs hold none: they were refused).  Their
    aggregates over a filter took the filter's resolution whatever their own said: read as
    not given, they take it again.
    """
    spec = entry.spec
    if spec.get("version", 1) >= SPEC_VERSION:
        given: str | None = spec.get("resolution")
        return given
    if entry.kind == "aggregate" and spec.get("filter"):
        return None
    given = spec.get("resolution", "1s")
    return None if given == "1s" else str(given)


def _for_trigger(trigger: str | None) -> str:
    return f"trigger {trigger!r}" if trigger is not None else "all triggers"


def _webhook_name(url: str, trigger: str | None) -> str:
    return f"{url} {trigger or '*'}"


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            return None
    return float(value)


def _us(value: Any) -> int | None:
    """A time bound as epoch microseconds; None, or Confluo's 0 .. sys.maxsize, as given."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2**62:
        return None  # sys.maxsize: "until the end"
    return bound_us(value)
