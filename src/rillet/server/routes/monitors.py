"""A stream's monitors (Confluo's): indexes, filters, aggregates and triggers; the records a
filter matched, an aggregate's value and its series; alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from starlette.requests import Request
from starlette.responses import Response

from rillet.errors import InputError
from rillet.server import wire
from rillet.server.routes.common import answer, blocking, field, json_object, state
from rillet.time import parse_duration_us


def _stream(request: Request) -> Any:
    return state(request).db.stream(request.path_params["stream"])


def _definitions(stream: Any) -> dict[str, Any]:
    found: dict[str, list[dict[str, Any]]] = {
        "indexes": [], "filters": [], "aggregates": [], "triggers": [],
    }  # fmt: skip
    for entry in stream.monitors.definitions():  # webhooks are not: URLs may carry secrets
        kind = {"index": "indexes", "filter": "filters"}.get(entry.kind, entry.kind + "s")
        item = {"name": entry.name, **entry.spec}
        if entry.kind == "aggregate":
            try:
                item["value"] = stream.get_aggregate(entry.name)
            except Exception:  # noqa: BLE001 - a value that cannot be read is shown as None
                item["value"] = None
        found[kind].append(item)
    return found


async def list_monitors(request: Request) -> Response:
    return answer(await blocking(lambda: _definitions(_stream(request))))


async def add_index(request: Request) -> Response:
    data = await json_object(request)
    column = field(data, "column", str)
    size = field(data, "bucket_size", (int, float), required=False)
    backfill = field(data, "backfill", bool, required=False) or False
    stream = await blocking(_stream, request)
    await blocking(stream.add_index, column, 1.0 if size is None else size, backfill=backfill)
    return answer({"column": column}, 201)


async def add_filter(request: Request) -> Response:
    data = await json_object(request)
    name, expression = field(data, "name", str), field(data, "expression", str)
    resolution = field(data, "resolution", str, required=False)
    backfill = field(data, "backfill", bool, required=False) or False
    stream = await blocking(_stream, request)
    await blocking(stream.add_filter, name, expression, resolution=resolution, backfill=backfill)
    return answer({"name": name, "expression": expression, "resolution": resolution}, 201)


async def add_aggregate(request: Request) -> Response:
    data = await json_object(request)
    name, expression = field(data, "name", str), field(data, "expression", str)
    filter_name = field(data, "filter", str, required=False)
    resolution = field(data, "resolution", str, required=False)
    backfill = field(data, "backfill", bool, required=False) or False
    stream = await blocking(_stream, request)
    await blocking(
        stream.add_aggregate, name, filter_name, expression, resolution=resolution,
        backfill=backfill,
    )  # fmt: skip
    return answer({"name": name, "filter": filter_name, "expression": expression}, 201)


async def add_trigger(request: Request) -> Response:
    data = await json_object(request)
    name, condition = field(data, "name", str), field(data, "condition", str)
    period = field(data, "period", str, required=False) or "1s"
    stream = await blocking(_stream, request)
    await blocking(stream.install_trigger, name, condition, period)
    return answer({"name": name, "condition": condition, "period": period}, 201)


REMOVE = {
    "indexes": "remove_index",
    "filters": "remove_filter",
    "aggregates": "remove_aggregate",
    "triggers": "remove_trigger",
}


async def remove(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in REMOVE:
        raise InputError(f"no monitors of kind {kind!r}: {', '.join(REMOVE)}", kind=kind)
    stream = await blocking(_stream, request)
    await blocking(getattr(stream, REMOVE[kind]), request.path_params["name"])
    return Response(status_code=204)


def _range(request: Request) -> tuple[Any, Any]:
    q = request.query_params
    return wire.time_param(q.get("start"), "start"), wire.time_param(q.get("end"), "end")


async def aggregate_value(request: Request) -> Response:
    start, end = _range(request)
    name = request.path_params["name"]
    stream = await blocking(_stream, request)
    value = await blocking(stream.get_aggregate, name, start, end)
    if wire.media(request.headers.get("accept")) == wire.ARROW:
        # the value as a one-row table: its type kept (a time stays a time), for the client
        try:
            table = pa.table({"value": pa.array([value])})
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            pass  # a value Arrow has no single type for: JSON
        else:
            content, kind = wire.table_body(table, wire.ARROW)
            return Response(content, media_type=kind)
    return answer({"name": name, "value": value})


async def aggregate_series(request: Request) -> Response:
    """The aggregate per ``step`` (default 1s) over ``[start, end)`` (default: the last
    minute): what a chart draws.  At most 2,000 points."""
    q = request.query_params
    step_us = parse_duration_us(q.get("step") or "1s", "step")
    now = dt.datetime.now(dt.UTC)
    start, end = _range(request)
    end_t = end or now
    step = dt.timedelta(microseconds=step_us)
    try:
        start_t = start or end_t - dt.timedelta(minutes=1)
        points = int((end_t - start_t) / step) if step_us > 0 else 0
    except OverflowError:  # a minute before the year 1
        start_t, points = end_t, 0
    if not 0 < points <= 2000:
        raise InputError(
            f"a series has 1 to 2,000 points: [{start_t}, {end_t}) by {q.get('step') or '1s'} "
            f"has {points}",
            parameter="step",
        )
    name = request.path_params["name"]
    stream = await blocking(_stream, request)

    def values() -> dict[str, Any]:
        times = [start_t + i * step for i in range(points)]
        return {
            "times": [t.isoformat() for t in times],
            "values": [stream.get_aggregate(name, t, t + step) for t in times],
        }

    return answer(await blocking(values))


async def filter_records(request: Request) -> Response:
    start, end = _range(request)
    stream = await blocking(_stream, request)
    matches = await blocking(stream.query_filter, request.path_params["name"], start, end)
    return wire.records_response(
        await blocking(matches.arrow), request.headers.get("accept"), _offsets(request)
    )


def _offsets(request: Request) -> bool:
    return wire.flag_param(request.query_params.get("offsets"), "offsets")


async def execute_filter(request: Request) -> Response:
    """``execute_filter``: the records an ad-hoc ``expression`` matches in [start, end)."""
    q = request.query_params
    expression = q.get("expression")
    if not expression:
        raise InputError("query parameter 'expression' is required", parameter="expression")
    start, end = _range(request)
    stream = await blocking(_stream, request)
    matches = await blocking(stream.execute_filter, expression, start, end)
    return wire.records_response(
        await blocking(matches.arrow), request.headers.get("accept"), _offsets(request)
    )


async def add_webhook(request: Request) -> Response:
    data = await json_object(request)
    url, trigger = field(data, "url", str), field(data, "trigger", str, required=False)
    stream = await blocking(_stream, request)
    await blocking(stream.add_webhook, url, trigger)
    return answer({"url": url, "trigger": trigger}, 201)


async def remove_webhook(request: Request) -> Response:
    data = await json_object(request)
    url, trigger = field(data, "url", str), field(data, "trigger", str, required=False)
    stream = await blocking(_stream, request)
    await blocking(stream.remove_webhook, url, trigger)
    return Response(status_code=204)
