"""The user methods of a database and a stream, written down once.

The embedded library implements them (:class:`rillet.Database`, :class:`rillet.Stream`), and
so will the remote client of ``rillet serve``: code written against these protocols runs on
either.  The engine's own methods (sealing, subscribers, locks) are not part of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

from rillet.aggregates import AggregateValue
from rillet.monitors.alerts import Alert
from rillet.query import Result
from rillet.record import Record
from rillet.schema import Schema, SchemaSpec
from rillet.stream import TimeBound

if TYPE_CHECKING:
    import pyarrow as pa

    from rillet.flows.flow import FlowRecord


class MatchesAPI(Protocol):
    """The records a filter matched (:class:`rillet.monitors.adhoc.Matches` embedded, a list
    of them remotely)."""

    def __len__(self) -> int:
        """How many records matched."""

    def __iter__(self) -> Iterator[Record]:
        """The matched records, in offset order."""


@runtime_checkable
class FlowAPI(Protocol):
    """A running continuous SELECT (:class:`rillet.flows.flow.Flow` embedded)."""

    id: int
    query: str
    columns: list[str]
    name: str | None

    @property
    def running(self) -> bool:
        """Whether the flow still runs."""

    @property
    def state(self) -> str:
        """Where the flow is: "running", "failed" (``error`` tells why) or how it ended."""

    @property
    def error(self) -> str | None:
        """What made the flow fail, as text; None while it has not failed."""

    @property
    def late_events(self) -> int:
        """Input records that came later than the slack allows."""

    @property
    def dropped_events(self) -> int:
        """Late records too old to count in any window still open (left out)."""

    def cancel(self, drain: bool = False) -> None:
        """Stop the flow (``drain``: first flush the windows still open)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flow ends; False if ``timeout`` seconds passed first."""

    def batches(self, timeout: float | None = None) -> Iterator[pa.RecordBatch]:
        """The output as Arrow batches, until the flow ends or ``timeout`` seconds pass
        without output."""

    def __iter__(self) -> Iterator[FlowRecord]:
        """The output, record by record."""


@runtime_checkable
class StreamAPI(Protocol):
    """A stream: typed records with dense offsets, and Confluo's monitors over them."""

    @property
    def name(self) -> str:
        """The stream's name."""

    @property
    def schema(self) -> Schema:
        """The columns, without the offset."""

    @property
    def time_column(self) -> str:
        """The column of event time."""

    @property
    def next_offset(self) -> int:
        """The offset the next appended record will get."""

    def __len__(self) -> int: ...

    def append(self, row: Any) -> int:
        """Append one record (a tuple in schema order, or a mapping); return its offset."""

    def append_many(self, data: Any) -> int:
        """Append many records, all or nothing; return the offset of the first."""

    @overload
    def read(self, offset: int) -> Record: ...

    @overload
    def read(self, offset: int, count: int) -> list[Record]: ...

    def read(self, offset: int, count: int | None = None) -> Record | list[Record]:
        """The record at ``offset``, or the records of ``offset .. offset + count - 1``."""

    def scan(self, start: TimeBound = None, end: TimeBound = None) -> Iterator[Record]:
        """The records with event time in ``[start, end)``, in event-time order."""

    def flush(self) -> None:
        """Make every record appended so far durable, and seen by the monitors."""

    def add_index(self, column: str, bucket_size: float = 1.0, *, backfill: bool = False) -> None:
        """Index a column for execute_filter."""

    def remove_index(self, column: str) -> None:
        """Drop an index."""

    def add_filter(
        self, name: str, expression: str, *, resolution: str | None = None, backfill: bool = False
    ) -> None:
        """A named predicate evaluated on every record."""

    def remove_filter(self, name: str) -> None:
        """Drop a filter (no aggregate may use it)."""

    def add_aggregate(
        self,
        name: str,
        filter: str | None,
        expression: str,
        *,
        resolution: str | None = None,
        backfill: bool = False,
    ) -> None:
        """A named aggregate over the records a filter matches, kept per time bucket."""

    def remove_aggregate(self, name: str) -> None:
        """Drop an aggregate (no trigger may use it)."""

    def install_trigger(self, name: str, condition: str, period: str = "1s") -> None:
        """A condition over aggregates judged every ``period``; each firing is an Alert."""

    def remove_trigger(self, name: str) -> None:
        """Drop a trigger."""

    def execute_filter(
        self, expression: str, start: TimeBound = None, end: TimeBound = None
    ) -> MatchesAPI:
        """The records matching an ad-hoc predicate."""

    def query_filter(self, name: str, start: TimeBound = None, end: TimeBound = None) -> MatchesAPI:
        """The records a named filter matched in ``[start, end)``."""

    def get_aggregate(
        self, name: str, start: TimeBound = None, end: TimeBound = None
    ) -> AggregateValue:
        """A named aggregate over ``[start, end)``."""

    def get_alerts(
        self, start: TimeBound = None, end: TimeBound = None, trigger: str | None = None
    ) -> list[Alert]:
        """The alerts raised in ``[start, end)``, of one trigger or all."""

    def on_alert(self, callback: Callable[[Alert], None]) -> None:
        """Call ``callback(alert)`` for every alert."""

    def add_webhook(self, url: str, trigger: str | None = None) -> None:
        """POST every alert (of ``trigger``, or all) as JSON to ``url``."""

    def remove_webhook(self, url: str, trigger: str | None = None) -> None:
        """Stop POSTing alerts to ``url``."""


@runtime_checkable
class DatabaseAPI(Protocol):
    """The streams of one database, and SQL over them."""

    def create_stream(
        self,
        name: str,
        schema: SchemaSpec,
        *,
        time_column: str | None = None,
        partition: str = "1h",
        retention: str | None = None,
        max_bytes: int | None = None,
        durability: str = "relaxed",
        log_compression: str | None = None,
    ) -> StreamAPI:
        """Create a stream and return it."""

    def stream(self, name: str) -> StreamAPI:
        """The stream called ``name``."""

    def streams(self) -> Sequence[StreamAPI]:
        """All streams, by name."""

    def drop_stream(self, name: str) -> None:
        """Delete a stream and everything it holds."""

    def sql(self, query: str, params: Sequence[Any] | None = None) -> Result:
        """Run SQL over the streams."""

    def execute(self, text: str) -> Any:
        """Run one rtsql statement: a SELECT gives its flow, others a printable result."""

    def flows(self) -> Sequence[FlowAPI]:
        """The running flows, by id, and the named flows that failed (with their error)."""

    def flow(self, flow_id: int) -> FlowAPI:
        """The running flow numbered ``flow_id``."""

    def name_flow(self, flow_id: int, name: str) -> StreamAPI:
        """Attach a stream name to a running flow: a new stream gets its output from now on."""

    def unname_flow(self, flow_id: int) -> None:
        """Remove a running flow's attached stream name; the flow goes on, the stream goes."""

    def set(self, key: str, value: Any) -> None:
        """Set a session setting (``rillet.*``) for the flows submitted afterwards."""

    @property
    def config(self) -> Mapping[str, Any]:
        """The session settings."""

    def close(self) -> None:
        """Make everything durable and release the database."""
