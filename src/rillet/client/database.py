"""The remote database and its streams: :mod:`rillet.api`'s methods as HTTP requests."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, overload

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from rillet.arguments import (
    check_arguments,
)
from rillet.batches import ipc_bytes, to_table
from rillet.client.flow import RemoteFlow
from rillet.client.http import ARROW, Connection, events, time_text
from rillet.errors import InputError, NotFoundError, UnsupportedError
from rillet.monitors import Alert
from rillet.query import Result
from rillet.record import Record
from rillet.rtsql.parser import parse
from rillet.rtsql.results import StatementResult
from rillet.schema import IMPLICIT_TIME, OFFSET, Schema

#: what an embedded stream and database have that a remote one does not: the engine's own
#: plumbing, which is the server's (the README's list of what does not work remotely)
STREAM_ONLY_EMBEDDED = frozenset(
    {
        "subscribe", "unsubscribe", "wait_subscribers", "seal", "apply_retention",
        "partitions", "take", "scan_tables", "stored", "monitors", "options", "root",
        "watermark", "caught_up", "paused", "granularity", "log_bytes_written",
    }
)  # fmt: skip
DATABASE_ONLY_EMBEDDED = frozenset({"confine_sql", "clock", "path", "settings"})


def _not_remote(what: str, name: str) -> UnsupportedError:
    return UnsupportedError(
        f"{what}.{name} is the embedded engine's and does not work on a remote database "
        "(the server keeps it); see the README's list of what does not work remotely",
        method=name,
    )


class RemoteMatches:
    """Records a filter matched on a server, as :class:`rillet.monitors.Matches` gives them:
    ``offsets`` (numpy), ``arrow()`` (with ``_offset``), ``len``, or iterate for Records."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self.offsets = np.asarray(table.column(OFFSET).to_numpy(), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.offsets)

    def arrow(self) -> pa.Table:
        """The matched records (with ``_offset``) as one table, in offset order."""
        return self._table

    def __iter__(self) -> Iterator[Record]:
        yield from _records(self._table)

    def __repr__(self) -> str:
        return f"Matches({len(self)} records)"


class RemoteStream:
    """A stream on a server (:class:`rillet.api.StreamAPI`)."""

    def __init__(self, connection: Connection, info: dict[str, Any]) -> None:
        self._connection = connection
        self.name: str = info["name"]
        self._path = f"/v1/streams/{_quoted(self.name)}"
        implicit = info["time_column"] == IMPLICIT_TIME  # added again by Schema.build
        columns = [
            (c["name"], c["type"] + ("" if c["nullable"] else " NOT NULL"))
            for c in info["schema"]
            if not (implicit and c["name"] == IMPLICIT_TIME)
        ]
        declared = (
            info["time_column"] if any(n == info["time_column"] for n, _ in columns) else None
        )
        self.schema = Schema.build(columns, declared)
        self.time_column: str = info["time_column"]
        self._alert_threads: list[threading.Thread] = []

    def _describe(self) -> dict[str, Any]:
        found: dict[str, Any] = self._connection.json("GET", self._path)
        return found

    @property
    def next_offset(self) -> int:
        """The offset the next appended record will get."""
        return int(self._describe()["next_offset"])

    def __len__(self) -> int:
        return int(self._describe()["records"])

    # -- ingest ------------------------------------------------------------------------

    def append(self, row: Any) -> int:
        """Append one record (a tuple in schema order or a dict); its offset.  Converted as
        the embedded library converts it, so a bad record is the same RecordError."""
        return self.append_many([row])

    def append_many(self, data: Any) -> int:
        """Append many records, all or nothing, sent as Arrow IPC; the first one's offset."""
        table = to_table(data, self.schema, self.name)
        names = [c.name for c in self.schema.columns]
        table = table.select([n for n in table.column_names if n in names])
        answer = self._connection.json(
            "POST", f"{self._path}/records", content=ipc_bytes(table),
            headers={"content-type": ARROW},
        )  # fmt: skip
        return int(answer["first_offset"])

    def flush(self) -> None:
        """Nothing to do: the server answered each append once it was stored."""

    # -- reads -------------------------------------------------------------------------

    @overload
    def read(self, offset: int) -> Record: ...
    @overload
    def read(self, offset: int, count: int) -> list[Record]: ...

    def read(self, offset: int, count: int | None = None) -> Record | list[Record]:
        """The record at ``offset``, or the records of ``offset .. offset + count - 1``."""
        check_arguments("read", locals())
        first = max(int(offset), 0)  # offsets below 0 hold no record, as embedded
        wanted = 1 if count is None else max(int(count) - (first - int(offset)), 0)
        records: list[Record] = []
        if wanted:
            table = self._connection.table(
                "GET", f"{self._path}/records",
                params={"offset": first, "count": wanted, "offsets": "true"},
            )  # fmt: skip
            records = _records(table)
        if count is None:
            if not records or int(offset) < 0:
                raise NotFoundError(
                    f"no record at offset {offset} in stream {self.name!r}",
                    kind="record", name=str(offset), suggestion=None,
                )  # fmt: skip
            return records[0]
        return records

    def scan(self, start: Any = None, end: Any = None) -> Iterator[Record]:
        """The records with event time in ``[start, end)``, in event-time order."""
        check_arguments("scan", locals())
        params = {k: v for k, v in (("start", time_text(start)), ("end", time_text(end))) if v}
        params.setdefault("start", "0")
        params["offsets"] = "true"
        table = self._connection.table("GET", f"{self._path}/records", params=params)
        return iter(_records(table))

    # -- monitors ----------------------------------------------------------------------

    def _post(self, kind: str, body: dict[str, Any]) -> None:
        self._connection.call("POST", f"{self._path}/{kind}", json=body)

    def add_index(self, column: str, bucket_size: float = 1.0, *, backfill: bool = False) -> None:
        """Index a column for execute_filter."""
        check_arguments("add_index", locals())
        self._post("indexes", {"column": column, "bucket_size": bucket_size, "backfill": backfill})

    def remove_index(self, column: str) -> None:
        """Drop an index."""
        check_arguments("remove_index", locals())
        self._connection.call("DELETE", f"{self._path}/indexes/{_quoted(column)}")

    def add_filter(
        self, name: str, expression: str, *, resolution: str | None = None, backfill: bool = False
    ) -> None:
        """A named predicate evaluated on every record."""
        check_arguments("add_filter", locals())
        self._post(
            "filters",
            {
                "name": name,
                "expression": expression,
                "resolution": resolution,
                "backfill": backfill,
            },
        )

    def remove_filter(self, name: str) -> None:
        """Drop a filter (no aggregate may use it)."""
        check_arguments("remove_filter", locals())
        self._connection.call("DELETE", f"{self._path}/filters/{_quoted(name)}")

    def add_aggregate(
        self, name: str, filter: str | None, expression: str, *,
        resolution: str | None = None, backfill: bool = False,
    ) -> None:  # fmt: skip
        """A named aggregate over the records a filter matches, kept per time bucket."""
        check_arguments("add_aggregate", locals())
        self._post(
            "aggregates",
            {"name": name, "filter": filter, "expression": expression, "resolution": resolution,
             "backfill": backfill},
        )  # fmt: skip

    def remove_aggregate(self, name: str) -> None:
        """Drop an aggregate (no trigger may use it)."""
        check_arguments("remove_aggregate", locals())
        self._connection.call("DELETE", f"{self._path}/aggregates/{_quoted(name)}")

    def install_trigger(self, name: str, condition: str, period: str = "1s") -> None:
        """A condition over aggregates judged every ``period``; each firing is an Alert."""
        check_arguments("install_trigger", locals())
        self._post("triggers", {"name": name, "condition": condition, "period": period})

    def remove_trigger(self, name: str) -> None:
        """Drop a trigger."""
        check_arguments("remove_trigger", locals())
        self._connection.call("DELETE", f"{self._path}/triggers/{_quoted(name)}")

    def execute_filter(self, expression: str, start: Any = None, end: Any = None) -> RemoteMatches:
        """The records matching an ad-hoc predicate."""
        check_arguments("execute_filter", locals())
        params = {"expression": expression, "start": time_text(start), "end": time_text(end)}
        params["offsets"] = "true"
        table = self._connection.table(
            "GET", f"{self._path}/matches", params={k: v for k, v in params.items() if v}
        )
        return RemoteMatches(table)

    def query_filter(self, name: str, start: Any = None, end: Any = None) -> RemoteMatches:
        """The records a named filter matched in ``[start, end)``."""
        check_arguments("query_filter", locals())
        params = {"start": time_text(start), "end": time_text(end), "offsets": "true"}
        table = self._connection.table(
            "GET", f"{self._path}/filters/{_quoted(name)}/records",
            params={k: v for k, v in params.items() if v},
        )  # fmt: skip
        return RemoteMatches(table)

    def get_aggregate(self, name: str, start: Any = None, end: Any = None) -> Any:
        """A named aggregate over ``[start, end)``."""
        check_arguments("get_aggregate", locals())
        params = {"start": time_text(start), "end": time_text(end)}
        answer = self._connection.call(
            "GET", f"{self._path}/aggregates/{_quoted(name)}",
            params={k: v for k, v in params.items() if v}, headers={"accept": ARROW},
        )  # fmt: skip
        if answer.headers.get("content-type", "").startswith(ARROW):  # typed: times stay times
            return ipc.open_stream(answer.content).read_all().column(0)[0].as_py()
        return answer.json()["value"]

    def get_alerts(
        self, start: Any = None, end: Any = None, trigger: str | None = None
    ) -> list[Alert]:
        """The alerts raised in ``[start, end)``, of one trigger or all."""
        check_arguments("get_alerts", locals())
        params = {
            "stream": self.name,
            "trigger": trigger,
            "start": time_text(start),
            "end": time_text(end),
        }
        found = self._connection.json(
            "GET", "/v1/alerts", params={k: v for k, v in params.items() if v}
        )
        return [_alert(a) for a in found]

    def on_alert(self, callback: Callable[[Alert], None]) -> None:
        """Call ``callback`` with each alert of this stream, read from the server's alert
        events on a thread of the client's (reconnecting with ``Last-Event-ID``)."""
        check_arguments("on_alert", locals())
        thread = threading.Thread(
            target=_alerts, args=(self._connection, self.name, callback), daemon=True
        )
        thread.name = f"rillet-remote-alerts-{self.name}"
        thread.start()
        self._alert_threads.append(thread)

    def add_webhook(self, url: str, trigger: str | None = None) -> None:
        """POST every alert (of ``trigger``, or all) as JSON to ``url``."""
        check_arguments("add_webhook", locals())
        self._post("webhooks", {"url": url, "trigger": trigger})

    def remove_webhook(self, url: str, trigger: str | None = None) -> None:
        """Stop POSTing alerts to ``url``."""
        check_arguments("remove_webhook", locals())
        self._connection.call(
            "DELETE", f"{self._path}/webhooks",
            content=json.dumps({"url": url, "trigger": trigger}),
            headers={"content-type": "application/json"},
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        if name in STREAM_ONLY_EMBEDDED:
            raise _not_remote("Stream", name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"RemoteStream({self.name!r} at {self._connection.url})"


class RemoteDatabase:
    """A database on a server (:class:`rillet.api.DatabaseAPI`)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self._connection = Connection(url, token)
        self._connection.json("GET", "/healthz")  # fail now if the server is not there
        self.url = self._connection.url

    def create_stream(
        self,
        name: str,
        schema: Any,
        *,
        time_column: str | None = None,
        partition: str = "1h",
        retention: str | None = None,
        max_bytes: int | None = None,
        durability: str = "relaxed",
        log_compression: str | None = None,
    ) -> RemoteStream:
        """Create a stream and return it."""
        check_arguments("create_stream", locals())
        options = {
            "partition": partition, "retention": retention, "max_bytes": max_bytes,
            "durability": durability, "log_compression": log_compression,
        }  # fmt: skip
        if isinstance(schema, pa.Schema):
            from rillet.datatypes import DataType

            schema = [[f.name, str(DataType.from_arrow(f.type, f.nullable))] for f in schema]
        elif isinstance(schema, list):
            schema = [[str(n), str(t)] for n, t in schema]
        body = {"name": name, "schema": schema, "time_column": time_column, **options}
        return RemoteStream(
            self._connection, self._connection.json("POST", "/v1/streams", json=body)
        )

    def stream(self, name: str) -> RemoteStream:
        """The stream called ``name``."""
        check_arguments("stream", locals())
        return RemoteStream(
            self._connection, self._connection.json("GET", f"/v1/streams/{_quoted(name)}")
        )

    def streams(self) -> list[RemoteStream]:
        """All streams, by name."""
        return [
            RemoteStream(self._connection, s) for s in self._connection.json("GET", "/v1/streams")
        ]

    def drop_stream(self, name: str) -> None:
        """Delete a stream and everything it holds."""
        check_arguments("drop_stream", locals())
        self._connection.call("DELETE", f"/v1/streams/{_quoted(name)}")

    def sql(
        self, query: str, params: Sequence[Any] | None = None, include_open: bool = False
    ) -> Result:
        """Run SQL over the streams."""
        check_arguments("sql", locals())
        body: dict[str, Any] = {"sql": query, "include_open": include_open}
        if params is not None:
            if isinstance(params, Mapping):
                raise InputError(
                    "sql(): named parameters (a mapping) cannot be sent to a server; give a "
                    "sequence for the ? placeholders",
                    method="sql", argument="params",
                )  # fmt: skip
            body["params"] = [_jsonable(p, i) for i, p in enumerate(params)]
        return Result(self._connection.table("POST", "/v1/sql", json=body))

    def execute(self, text: str) -> Any:
        """Run one rtsql statement: a SELECT gives its flow, others a printable result."""
        check_arguments("execute", locals())
        answer = self._connection.json("POST", "/v1/rtsql", json={"statement": text})
        if "flow" in answer:
            return RemoteFlow(
                self._connection, self._connection.json("GET", f"/v1/flows/{answer['flow']}")
            )
        return StatementResult(parse(text), tuple(answer["lines"]))

    def flows(self) -> list[RemoteFlow]:
        """The running flows, by id."""
        return [RemoteFlow(self._connection, f) for f in self._connection.json("GET", "/v1/flows")]

    def flow(self, flow_id: int) -> RemoteFlow:
        """The running flow numbered ``flow_id``."""
        check_arguments("flow", locals())
        return RemoteFlow(
            self._connection, self._connection.json("GET", f"/v1/flows/{int(flow_id)}")
        )

    def name_flow(self, flow_id: int, name: str) -> RemoteStream:
        """Attach a stream name to a running flow: a new stream gets its output from now on."""
        check_arguments("name_flow", locals())
        return RemoteStream(
            self._connection,
            self._connection.json("PUT", f"/v1/flows/{int(flow_id)}/name", json={"stream": name}),
        )

    def unname_flow(self, flow_id: int) -> None:
        """Remove a running flow's attached stream name; the flow goes on, the stream goes."""
        check_arguments("unname_flow", locals())
        self._connection.call("DELETE", f"/v1/flows/{int(flow_id)}/name")

    def set(self, key: str, value: Any) -> None:
        """Set a session setting (``rillet.*``) for the flows submitted afterwards."""
        check_arguments("set", locals())
        self._connection.call("POST", "/v1/settings", json={"key": key, "value": value})

    @property
    def config(self) -> Mapping[str, Any]:
        """The session settings."""
        return MappingProxyType(self._connection.json("GET", "/v1/settings"))

    def close(self) -> None:
        """Make everything durable and release the database."""
        self._connection.close()

    def __enter__(self) -> RemoteDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name in DATABASE_ONLY_EMBEDDED:
            raise _not_remote("Database", name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"RemoteDatabase({self.url!r})"


def _quoted(name: str) -> str:
    return httpx.URL(f"/{name}").raw_path.decode()[1:].replace("/", "%2F")


def _records(table: pa.Table) -> list[Record]:
    """Records of a table the server sent with their offsets (the ``_offset`` column)."""
    offsets = table.column(OFFSET).to_pylist()
    shown = table.drop_columns([OFFSET])
    index = {name: i for i, name in enumerate(shown.column_names)}
    columns = [c.to_pylist() for c in shown.columns]
    return [
        Record(index, values, int(offset))
        for values, offset in zip(zip(*columns, strict=True), offsets, strict=True)
    ]


def _alert(data: dict[str, Any]) -> Alert:
    return Alert(
        trigger=data["trigger"],
        time=dt.datetime.fromisoformat(data["time"]),
        value=data["value"],
        condition=data["condition"],
        aggregate=data.get("aggregate", ""),
        stream=data.get("stream", ""),
    )


def _jsonable(value: Any, index: int) -> Any:
    """A SQL parameter as JSON: times as ISO text; what JSON cannot carry is refused."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v, index) for v in value]
    raise InputError(
        f"sql(): params[{index}] is a {type(value).__name__}, which cannot be sent to a server "
        "(give None, a bool, number, str, datetime, date or a list of them)",
        method="sql", argument="params", row=index,
    )  # fmt: skip


def _alerts(connection: Connection, stream: str, callback: Callable[[Alert], None]) -> None:
    for kind, data in events(connection, "/v1/alerts/events", params={"stream": stream}):
        if kind == "alert":
            callback(_alert(data))
