"""Streams and their records: create, list, describe, drop; append; read by offset, scan by
time, the newest records; a live tail as server-sent events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pyarrow as pa
from starlette.requests import Request
from starlette.responses import Response

from rillet.errors import OverloadedError
from rillet.schema import OFFSET
from rillet.server import sse, wire
from rillet.server.errors import json_bytes
from rillet.server.rates import Rates
from rillet.server.routes.common import answer, blocking, body, field, json_object, state

OPTIONS = ("partition", "retention", "durability", "log_compression")


def describe(stream: Any, rates: Rates) -> dict[str, Any]:
    """A stream as the API shows it; ``ingest_rates`` are its records/s, a second apart,
    over the last minutes (oldest first)."""
    options = stream.options
    partitions = stream.partitions()
    return {
        "name": stream.name,
        "schema": [
            {"name": c.name, "type": str(c.type.with_nullable(True)), "nullable": c.type.nullable}
            for c in stream.schema.columns
        ],
        "time_column": stream.time_column,
        "records": len(stream),
        "next_offset": stream.next_offset,
        "bytes": sum(p.nbytes for p in partitions),
        "partitions": len(partitions),
        "partition": options.partition,
        "retention": options.retention,
        "max_bytes": options.max_bytes,
        "durability": options.durability,
        "ingest_rates": rates.history(stream.name),
    }


async def list_streams(request: Request) -> Response:
    st = state(request)
    return answer(await blocking(lambda: [describe(s, st.rates) for s in st.db.streams()]))


async def create_stream(request: Request) -> Response:
    data = await json_object(request)
    name = field(data, "name", str)
    schema = field(data, "schema", (str, list))
    if isinstance(schema, list):
        schema = [_column(c, i) for i, c in enumerate(schema)]
    options: dict[str, Any] = {k: field(data, k, str, required=False) for k in OPTIONS}
    options["max_bytes"] = field(data, "max_bytes", int, required=False)
    options = {k: v for k, v in options.items() if v is not None}
    time_column = field(data, "time_column", str, required=False)
    st = state(request)
    stream = await blocking(st.db.create_stream, name, schema, time_column=time_column, **options)
    st.watch_streams()
    return answer(describe(stream, st.rates), 201)


def _column(column: Any, index: int) -> tuple[str, str]:
    if isinstance(column, dict):
        name, kind = column.get("name"), column.get("type")
        if isinstance(name, str) and isinstance(kind, str):
            nullable = column.get("nullable", True)
            return name, kind if nullable is not False else f"{kind} NOT NULL"
    if isinstance(column, list) and len(column) == 2 and all(isinstance(x, str) for x in column):
        return column[0], column[1]
    from rillet.errors import InputError

    raise InputError(
        f"schema[{index}] must be {{'name': ..., 'type': ...}} or [name, type], got {column!r}",
        field="schema",
        row=index,
    )


async def get_stream(request: Request) -> Response:
    st = state(request)
    name = request.path_params["stream"]
    return answer(await blocking(lambda: describe(st.db.stream(name), st.rates)))


async def drop_stream(request: Request) -> Response:
    db = state(request).db
    await blocking(db.drop_stream, request.path_params["stream"])
    return Response(status_code=204)


async def append(request: Request) -> Response:
    st = state(request)
    stream = await blocking(st.db.stream, request.path_params["stream"])
    raw = await body(request)
    data, single = wire.records(
        raw, request.headers.get("content-type"), stream.schema, stream.name
    )
    st.waiting += 1
    try:
        await asyncio.wait_for(st.ingest.acquire(), st.config.ingest_wait)
    except TimeoutError:
        st.metrics.rejected.inc()
        raise OverloadedError(
            f"ingestion into {stream.name!r} cannot keep up: retry after a second",
            stream=stream.name,
        ) from None
    finally:
        st.waiting -= 1
    try:
        if single:
            first = await blocking(stream.append, data)
        else:
            first = await blocking(stream.append_many, data)
    finally:
        st.ingest.release()
    count = 1 if single else _count(data)
    st.metrics.records.labels(stream.name).inc(count)
    st.metrics.bytes.labels(stream.name).inc(len(raw))
    return answer({"appended": count, "first_offset": first, "next_offset": first + count})


def _count(data: Any) -> int:
    return data.num_rows if isinstance(data, pa.Table) else len(data)


async def read(request: Request) -> Response:
    """Records by offset (``offset``, ``count``), by time (``start``, ``end``) or the
    newest (``tail``), as the Accept header asks; ``offsets=true`` adds each record's
    offset as the column ``_offset``."""
    db = state(request).db
    q = request.query_params
    name = request.path_params["stream"]
    stream = await blocking(db.stream, name)
    tail = wire.int_param(q.get("tail"), "tail", None, least=1)
    offsets = wire.flag_param(q.get("offsets"), "offsets")
    if "start" in q or "end" in q:
        start = wire.time_param(q.get("start"), "start")
        end = wire.time_param(q.get("end"), "end")
        limit = wire.int_param(q.get("count"), "count", None, least=0)
        if offsets:
            table = await blocking(_scan_stored, stream, start, end, limit)
        else:
            table = await blocking(_scan, db, stream, start, end, limit)
    else:
        if tail is not None:
            offset = max(stream.next_offset - tail, 0)
            count = stream.next_offset - offset
        else:
            offset = wire.int_param(q.get("offset"), "offset", 0, least=0) or 0
            count = wire.int_param(q.get("count"), "count", 100, least=0) or 0
        table = await blocking(_take, stream, offset, count)
    return wire.records_response(table, request.headers.get("accept"), offsets)


def _scan_stored(stream: Any, start: Any, end: Any, limit: int | None) -> pa.Table:
    """What ``stream.scan`` reads, with the offsets: at most ``limit`` records."""
    tables: list[pa.Table] = []
    rows = 0
    for table in stream.scan_tables(start, end):
        tables.append(table)
        rows += table.num_rows
        if limit is not None and rows >= limit:
            break
    found = pa.concat_tables(tables) if tables else stream.schema.storage.empty_table()
    return found if limit is None else found.slice(0, limit)


def _take(stream: Any, offset: int, count: int) -> pa.Table:
    end = min(offset + count, stream.next_offset)
    offsets = np.arange(offset, max(end, offset), dtype=np.int64)
    return stream.take(offsets)


def _scan(db: Any, stream: Any, start: Any, end: Any, limit: int | None) -> pa.Table:
    column = stream.time_column.replace('"', '""')
    where, params = [], []
    if start is not None:
        where.append(f'"{column}" >= ?')
        params.append(start)
    if end is not None:
        where.append(f'"{column}" < ?')
        params.append(end)
    name = stream.name.replace('"', '""')
    query = f'SELECT * FROM "{name}"' + (" WHERE " + " AND ".join(where) if where else "")
    query += f' ORDER BY "{column}"' + (f" LIMIT {int(limit)}" if limit is not None else "")
    return db.sql(query, params).arrow()


class _Tail:
    """A stream subscriber that hands each ingested batch to one event-stream client."""

    def __init__(self, client: sse.Client, first: int) -> None:
        self.client = client
        self.next = first

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        offsets = batch.column(OFFSET)
        last = int(offsets[len(offsets) - 1].as_py()) + 1 if len(offsets) else self.next
        shown = batch.drop_columns([OFFSET]) if OFFSET in batch.schema.names else batch
        data = wire.table_json(pa.Table.from_batches([shown]))
        data["next_offset"] = last
        self.next = last
        self.client.offer(sse.Event("records", json_bytes(data), last))

    def forget_before(self, start_us: int) -> None:
        """Retention dropped old records: a tail holds none."""


async def events(request: Request) -> Response:
    """New records of a stream as they are ingested (``records`` events, id: next offset);
    ``Last-Event-ID`` or ``?offset=`` starts from an earlier offset."""
    st = state(request)
    stream = await blocking(st.db.stream, request.path_params["stream"])
    resume = sse.last_event_id(request.headers.get("last-event-id"))
    offset = wire.int_param(request.query_params.get("offset"), "offset", resume, least=0)
    client = sse.Client(asyncio.get_running_loop(), st.config.sse_queue)
    tail = _Tail(client, offset if offset is not None else stream.next_offset)
    subscription = await blocking(
        stream.subscribe, tail, f"sse-{id(client)}-{time.monotonic_ns()}", offset
    )

    def close() -> None:
        stream.unsubscribe(subscription)

    return sse.response(client, [], st.config.heartbeat, False, close)
