"""Defining monitors: made from their catalog entries, checked whole, kept in the catalog and
in their kind's table, their history replayed; or, when anything refuses one, kept nowhere.

A trigger may make the automatic aggregates it names finer (:mod:`rillet.monitors.resolution`);
its removal makes them coarser again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rillet.errors import ConflictError
from rillet.monitors import build
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.evaluation import Evaluation
from rillet.monitors.filter import Filter
from rillet.monitors.index import Index
from rillet.monitors.resolution import (
    automatic_base,
    automatic_resolution,
    check_period,
    check_resolution,
    finer_aggregates,
)
from rillet.monitors.trigger import Trigger
from rillet.storage.catalog import MonitorEntry

M = TypeVar("M", Index, Filter, AggregateMonitor, Trigger)


class Definitions(Evaluation):
    """Adding monitors to the tables and the catalog; the caller holds ``_lock``."""

    def _load(self, entry: MonitorEntry) -> None:
        """Make a monitor of the catalog (checked when it was added) and keep it."""
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

    def _add(self, kind: str, name: str, spec: build.Spec, backfill: bool) -> None:
        stored: dict[str, object] = dict(spec)
        if kind in ("filter", "aggregate"):
            stored["version"] = build.SPEC_VERSION
        offset = 0 if backfill else self.stream.next_offset
        entry = MonitorEntry(kind, name, stored, offset, {})
        if kind == "webhook":
            self._add_webhook(entry)
            return
        if name in self._table(kind):
            raise ConflictError(
                f"{kind} {name!r} already exists on stream {self.stream.name!r}",
                kind=kind,
                name=name,
            )
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

    def _add_webhook(self, entry: MonitorEntry) -> None:
        hook = build.webhook_of(entry)
        self.publisher.add_webhook(hook)  # refused if it is there already
        try:
            self._catalog.add_monitor(self.stream.name, entry)
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
            self._catalog.add_monitor(self.stream.name, entry)
        except Exception:
            table.pop(entry.name, None)
            raise

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
