"""Monitors made from their catalog entries: one function a kind, each checking the whole
definition before anything is kept (a refused one leaves the catalog as it was).

The catalog holds each definition as JSON (:class:`rillet.storage.catalog.MonitorEntry`);
these functions are the one place that reads its fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from rillet.datatypes import DataType
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Webhook
from rillet.monitors.filter import Filter
from rillet.monitors.index import Index
from rillet.monitors.trigger import Trigger
from rillet.storage.catalog import MonitorEntry
from rillet.time import parse_duration_us

# the catalog spec of a filter or aggregate since resolutions became automatic: "resolution"
# holds what was given, None when nothing was (see given_resolution)
SPEC_VERSION = 2


class IndexSpec(TypedDict):
    bucket_size: float


class FilterSpec(TypedDict):
    expression: str
    resolution: str | None  # None: the aggregates over it choose (automatic)


class AggregateSpec(TypedDict):
    filter: str | None  # None: every record
    expression: str
    resolution: str | None  # None: its filter's, else automatic


class TriggerSpec(TypedDict):
    condition: str
    period: str


class WebhookSpec(TypedDict):
    url: str
    trigger: str | None  # None: every trigger's alerts


#: a definition as ``MonitorSet.add`` takes it (the catalog adds "version" to filters' and
#: aggregates')
Spec = IndexSpec | FilterSpec | AggregateSpec | TriggerSpec | WebhookSpec


@dataclass(frozen=True, slots=True)
class Definition:
    """A monitor as defined: its kind, name and spec (as stored, with its version)."""

    kind: str
    name: str
    spec: dict[str, object]


def index_of(entry: MonitorEntry, columns: Mapping[str, DataType]) -> Index:
    bucket_size: float | None = entry.spec.get("bucket_size")
    return Index(entry.name, columns[entry.name], bucket_size, entry.from_offset)


def filter_of(entry: MonitorEntry, columns: Mapping[str, DataType]) -> Filter:
    given = given_resolution(entry)
    resolution = None if given is None else parse_duration_us(given, "resolution")
    expression: str = entry.spec["expression"]
    return Filter(entry.name, expression, columns, resolution, entry.from_offset)


def aggregate_of(
    entry: MonitorEntry,
    columns: Mapping[str, DataType],
    filters: Mapping[str, Filter],
    automatic_us: int,
) -> AggregateMonitor:
    """An aggregate with the resolution it was given, else its filter's, else
    ``automatic_us`` (made finer when a trigger over it needs it)."""
    source: str | None = entry.spec.get("filter")
    given = given_resolution(entry)
    width, fixed_by = automatic_us, None
    inherited = filters[source].resolution_us if source else None
    if given is not None:  # its own, whatever its filter's
        width, fixed_by = parse_duration_us(given, "resolution"), "aggregate"
    elif inherited is not None:
        width, fixed_by = inherited, "filter"
    expression: str = entry.spec["expression"]
    return AggregateMonitor(
        entry.name, source, expression, columns, width, entry.from_offset, fixed_by
    )


def trigger_of(
    entry: MonitorEntry, aggregates: Mapping[str, AggregateMonitor], newest_us: int
) -> Trigger:
    """A trigger judging from where its catalog state says; a new one judges the window in
    progress (of the newest event time seen, ``newest_us``) and later ones, not older
    history."""
    period = parse_duration_us(entry.spec["period"], "period")
    initial = newest_us // period * period if newest_us > -(2**62) else -(2**62)
    checked = int(entry.state.get("checked_through", initial))
    condition: str = entry.spec["condition"]
    return Trigger(entry.name, condition, period, aggregates, checked, entry.from_offset, newest_us)


def webhook_of(entry: MonitorEntry) -> Webhook:
    url: str = entry.spec["url"]
    trigger: str | None = entry.spec.get("trigger")
    return Webhook(url, trigger)


def given_resolution(entry: MonitorEntry) -> str | None:
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
