"""Flows (list, one, cancel, name, watch) and alerts (list, watch): the live parts, with their
output as server-sent events."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from rillet.errors import InputError
from rillet.flows.flow import refuse_stopping_named
from rillet.server import sse, wire
from rillet.server.routes.common import answer, blocking, field, json_object, state
from rillet.server.routes.queries import flow_json
from rillet.server.routes.streams import describe


def _flow_id(request: Request) -> int:
    text = request.path_params["flow"]
    if not text.isdigit():
        raise InputError(f"a flow id is a whole number, got {text!r}", flow=text)
    return int(text)


async def list_flows(request: Request) -> Response:
    st = state(request)
    return answer([flow_json(f, st.flows.get(f.id)) for f in st.db.flows()])


async def get_flow(request: Request) -> Response:
    st = state(request)
    flow = st.db.flow(_flow_id(request))
    return answer(flow_json(flow, st.flows.get(flow.id)))


async def cancel_flow(request: Request) -> Response:
    st = state(request)
    flow = st.db.flow(_flow_id(request))
    refuse_stopping_named(flow, f"DELETE /v1/flows/{flow.id}")
    await blocking(flow.cancel)
    return Response(status_code=204)


async def name_flow(request: Request) -> Response:
    """Attach a stream name to a running flow (``{"stream": name}``, FlumeBase's ``\\name``):
    the new stream, described, gets the flow's output from now on."""
    data = await json_object(request)
    name = field(data, "stream", str)
    st = state(request)
    flow_id = _flow_id(request)
    stream = await blocking(st.db.name_flow, flow_id, name)
    st.watch_streams()
    return answer(describe(stream, st.rates), 201)


async def unname_flow(request: Request) -> Response:
    """Remove the stream name attached to a running flow (``\\dname``); its stream goes."""
    st = state(request)
    await blocking(st.db.unname_flow, _flow_id(request))
    return Response(status_code=204)


async def flow_events(request: Request) -> Response:
    """A flow's output rows as ``rows`` events (``{"columns", "rows"}``, the timestamp
    first); ``Last-Event-ID`` resumes after the last event seen (the last 1,000 are kept);
    ``end`` when the flow ends."""
    st = state(request)
    flow_id = _flow_id(request)
    feed = st.flows.get(flow_id)
    if feed is None:
        feed = st.feed(st.db.flow(flow_id))
    client = sse.Client(asyncio.get_running_loop(), st.config.sse_queue)
    after = sse.last_event_id(request.headers.get("last-event-id"))
    replay = feed.join(client, after)
    return sse.response(
        client, replay, st.config.heartbeat, feed.ended and after is not None,
        lambda: feed.leave(client),
    )  # fmt: skip


def _alert_filter(request: Request) -> tuple[str | None, str | None]:
    q = request.query_params
    return q.get("stream") or None, q.get("trigger") or None


async def list_alerts(request: Request) -> Response:
    """Alerts of every stream (or ``?stream=``), of a ``trigger``, in ``[start, end)``."""
    st = state(request)
    stream_name, trigger = _alert_filter(request)
    q = request.query_params
    start = wire.time_param(q.get("start"), "start")
    end = wire.time_param(q.get("end"), "end")

    def alerts() -> list[dict[str, Any]]:
        streams = [st.db.stream(stream_name)] if stream_name else st.db.streams()
        found: list[dict[str, Any]] = []
        for s in streams:
            found.extend(a.to_dict() for a in s.get_alerts(start, end, trigger))
        return sorted(found, key=lambda a: (a["time"], a["stream"], a["trigger"]))

    return answer(await blocking(alerts))


async def alert_events(request: Request) -> Response:
    """Alerts as they fire (``alert`` events), filtered by ``?stream=`` and ``?trigger=``."""
    st = state(request)
    stream_name, trigger = _alert_filter(request)
    st.watch_streams()
    client = sse.Client(asyncio.get_running_loop(), st.config.sse_queue)
    after = sse.last_event_id(request.headers.get("last-event-id"))
    replay = st.alerts.join(client, after)

    def wanted(event: sse.Event) -> bool:
        if event.event != "alert" or (stream_name is None and trigger is None):
            return True
        alert = orjson.loads(event.data)
        return (stream_name is None or alert.get("stream") == stream_name) and (
            trigger is None or alert.get("trigger") == trigger
        )

    return sse.response(
        client, replay, st.config.heartbeat, False, lambda: st.alerts.leave(client), wanted
    )
