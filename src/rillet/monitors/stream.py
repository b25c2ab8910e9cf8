"""The stream people hold: a stream's records (:mod:`rillet.stream`) and its monitors.

The monitors are a subscriber of the stream like any other; this class gives them Confluo's
calls (``add_filter``, ``get_aggregate``, ...) on the stream itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rillet import stream
from rillet.aggregates import AggregateValue
from rillet.arguments import (
    check_arguments,
)
from rillet.errors import ConfigError, SchemaError, not_found, suggest
from rillet.monitors.adhoc import Matches
from rillet.monitors.alerts import Alert
from rillet.monitors.build import AggregateSpec
from rillet.monitors.monitor_set import MonitorSet
from rillet.query import QueryEngine
from rillet.settings import Settings
from rillet.storage.catalog import Catalog, StreamEntry
from rillet.stream import TimeBound
from rillet.time import parse_duration_us


class MonitoredStream(stream.Stream):
    """A named, typed, append-only stream of records, with Confluo's monitors: indexes,
    filters, aggregates, triggers and alerts.  Get one from :class:`rillet.Database`
    (``rillet.Stream`` is this class).

    Examples:
        >>> import rillet
        >>> db = rillet.connect()
        >>> s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
        >>> s.add_aggregate("top", None, "MAX(v)")
        >>> s.append_many([("2024-01-01T00:00:00Z", 7), ("2024-01-01T00:00:01Z", 9)])
        0
        >>> s.get_aggregate("top")
        9
    """

    def __init__(
        self,
        entry: StreamEntry,
        root: Path | None,
        catalog: Catalog,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        alerts: Callable[[], stream.Stream] | None = None,
        query: QueryEngine | None = None,
    ) -> None:
        super().__init__(entry, root, catalog, settings, clock)
        self.monitors = MonitorSet(self, catalog, clock, alerts or self._no_alerts, query)

    def _no_alerts(self) -> stream.Stream:
        raise ConfigError(f"stream {self.name!r} is outside a Database: it keeps no alerts")

    def add_index(self, column: str, bucket_size: float = 1.0, *, backfill: bool = False) -> None:
        """Index a numeric (by ``bucket_size`` buckets), STRING or BOOLEAN column."""
        check_arguments("add_index", locals())
        name = self._column(column)
        self.monitors.add("index", name, {"bucket_size": bucket_size}, backfill)

    def remove_index(self, column: str) -> None:
        """Drop the index on ``column`` (NotFoundError without one)."""
        check_arguments("remove_index", locals())
        self.monitors.remove("index", column)

    def add_filter(
        self, name: str, expression: str, *, resolution: str | None = None, backfill: bool = False
    ) -> None:
        """A named predicate evaluated on every record.  Its matches are cut at the exact
        times asked for; ``resolution`` is the buckets of the aggregates over it that give
        none of their own (without it, theirs are automatic)."""
        check_arguments("add_filter", locals())
        if resolution is not None:
            parse_duration_us(resolution, "resolution")
        self.monitors.add(
            "filter",
            _monitor_name(name),
            {"expression": expression, "resolution": resolution},
            backfill,
        )

    def remove_filter(self, name: str) -> None:
        """Drop a filter; ConflictError while an aggregate uses it."""
        check_arguments("remove_filter", locals())
        self.monitors.remove("filter", name)

    def add_aggregate(
        self,
        name: str,
        filter: str | None,
        expression: str,
        *,
        resolution: str | None = None,
        backfill: bool = False,
    ) -> None:
        """A named aggregate (e.g. ``"MAX(op_latency_ms)"``) over the records a filter matches
        (all records when ``filter`` is None), kept per time bucket of ``resolution``.

        Without a resolution (nor one on its filter), the buckets are automatic: 1 s, made
        finer when a trigger's period needs it (100 ms for a 100 ms trigger), the history
        then rebuilt from the stored records.  A resolution given is kept, and a trigger
        whose period is not whole buckets of it is refused."""
        check_arguments("add_aggregate", locals())
        if filter is not None and filter not in self.monitors.filters:
            raise not_found("filter", filter, self.monitors.filters, f" on stream {self.name!r}")
        if resolution is not None:
            parse_duration_us(resolution, "resolution")
        spec: AggregateSpec = {"filter": filter, "expression": expression, "resolution": resolution}
        self.monitors.add("aggregate", _monitor_name(name), spec, backfill)

    def remove_aggregate(self, name: str) -> None:
        """Drop an aggregate; ConflictError while a trigger uses it."""
        check_arguments("remove_aggregate", locals())
        self.monitors.remove("aggregate", name)

    def install_trigger(self, name: str, condition: str, period: str = "1s") -> None:
        """A condition over aggregates (``"max_latency_ms > 1000"``) checked every ``period``
        (``"1s"``, ``"100ms"``, ``"10ms"``, ...) on closed windows; each firing is an Alert.
        Automatic aggregates it names are made as fine as the period needs."""
        check_arguments("install_trigger", locals())
        parse_duration_us(period, "period")
        self.monitors.add(
            "trigger", _monitor_name(name), {"condition": condition, "period": period}
        )

    def remove_trigger(self, name: str) -> None:
        """Drop a trigger; the alerts it raised are kept."""
        check_arguments("remove_trigger", locals())
        self.monitors.remove("trigger", name)

    def execute_filter(
        self, expression: str, start: TimeBound = None, end: TimeBound = None
    ) -> Matches:
        """The records matching an ad-hoc predicate, using indexes and file statistics."""
        check_arguments("execute_filter", locals())
        return self.monitors.execute_filter(expression, start, end)

    def query_filter(self, name: str, start: TimeBound = None, end: TimeBound = None) -> Matches:
        """The records a named filter matched with event time in ``[start, end)``."""
        check_arguments("query_filter", locals())
        return self.monitors.query_filter(name, start, end)

    def get_aggregate(
        self, name: str, start: TimeBound = None, end: TimeBound = None
    ) -> AggregateValue:
        """A named aggregate merged over the buckets of ``[start, end)``."""
        check_arguments("get_aggregate", locals())
        return self.monitors.get_aggregate(name, start, end)

    def get_alerts(
        self, start: TimeBound = None, end: TimeBound = None, trigger: str | None = None
    ) -> list[Alert]:
        """Alerts raised in ``[start, end)``, of one trigger or all."""
        check_arguments("get_alerts", locals())
        return self.monitors.get_alerts(start, end, trigger)

    def on_alert(self, callback: Callable[[Alert], None]) -> None:
        """Call ``callback(alert)`` for every alert (on a delivery thread, not the appender's)."""
        check_arguments("on_alert", locals())
        self.monitors.delivery.callbacks.append(callback)

    def add_webhook(self, url: str, trigger: str | None = None) -> None:
        """POST every alert (of ``trigger``, or all) as JSON to ``url``, retried with backoff."""
        check_arguments("add_webhook", locals())
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"webhook url {url!r} must start with http:// or https://", option="url"
            )
        self.monitors.add("webhook", f"{url} {trigger or '*'}", {"url": url, "trigger": trigger})

    def remove_webhook(self, url: str, trigger: str | None = None) -> None:
        """Stop POSTing alerts (of ``trigger``, or all) to ``url``."""
        check_arguments("remove_webhook", locals())
        self.monitors.remove_webhook(url, trigger)

    def _column(self, name: str) -> str:
        if name in self.schema.index:
            return name
        hint = suggest(name, self.schema.names)
        raise SchemaError(
            f"unknown column {name!r} in stream {self.name!r}"
            + (f"; did you mean {hint!r}?" if hint else ""),
            stream=self.name,
            column=name,
        )

    def _close_subscribers(self) -> None:
        """Stop the subscribers, then deliver what alerts remain."""
        super()._close_subscribers()
        self.monitors.close()


def _monitor_name(name: str) -> str:
    """Monitor names are identifiers, so trigger conditions can name aggregates."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"monitor name {name!r} must be an identifier (letters, digits, _)", option="name"
        )
    return name.lower()
