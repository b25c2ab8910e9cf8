"""What the parts of a stream's monitors share: the monitors by kind, their lock and where
alerts go (set by :class:`rillet.monitors.monitor_set.MonitorSet`).

Each part (:mod:`~rillet.monitors.evaluation`, :mod:`~rillet.monitors.definitions`,
:mod:`~rillet.monitors.queries`) is a layer over this state, as a stream's parts are over
:mod:`rillet.streaming.state`; ``_lock`` guards all of it (docs/threads.md).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rillet.datatypes import DataType
from rillet.monitors.adhoc import AdHoc
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Delivery
from rillet.monitors.filter import Filter
from rillet.monitors.index import Index
from rillet.monitors.publishing import Publisher
from rillet.monitors.trigger import Trigger
from rillet.storage.catalog import Catalog

if TYPE_CHECKING:
    from rillet.stream import Stream

#: one kind's monitors by name
Table = dict[str, Index] | dict[str, Filter] | dict[str, AggregateMonitor] | dict[str, Trigger]


class MonitorTables:
    """The monitors of one stream by kind, and what their parts read and change."""

    stream: Stream
    _catalog: Catalog
    columns: dict[str, DataType]
    indexes: dict[str, Index]
    filters: dict[str, Filter]
    aggregates: dict[str, AggregateMonitor]
    triggers: dict[str, Trigger]
    publisher: Publisher
    #: retention dropped records since open (the indexes still hold their offsets)
    trimmed: bool
    #: the newest event time evaluated, epoch microseconds
    watermark: int
    #: re-entrant: the definitions and states, the triggers' windows, the alerts' outbox
    _lock: threading.RLock
    #: execute_filter's reading of stored records
    _adhoc: AdHoc

    @property
    def active(self) -> bool:
        """Whether any monitor evaluates batches (triggers read aggregates only)."""
        return bool(self.indexes or self.filters or self.aggregates)

    @property
    def delivery(self) -> Delivery:
        """The callbacks and webhooks alerts go to."""
        return self.publisher.delivery

    def _table(self, kind: str) -> Table:
        tables: dict[str, Table] = {
            "index": self.indexes,
            "filter": self.filters,
            "aggregate": self.aggregates,
            "trigger": self.triggers,
        }
        empty: dict[str, Filter] = {}  # an unknown kind holds nothing: "not found"
        return tables.get(kind, empty)

    def caught_up(self) -> None:
        """Wait until the monitors have seen every record appended so far.

        Never call it holding the monitors' lock: the subscription's thread needs it.
        """
        self.stream.caught_up()
