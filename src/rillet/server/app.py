"""The application: every endpoint with the role it needs, auth, error answers, limits."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rillet.database import Database
from rillet.errors import RilletError
from rillet.server.config import ROLES, ServerConfig
from rillet.server.errors import error_response, refusal
from rillet.server.openapi import spec
from rillet.server.routes import live, meta, monitors, queries, streams
from rillet.server.routes.common import BodyTooLarge
from rillet.server.state import ServerState

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One endpoint: its method and path, the role it needs (None: anyone), what it does,
    and what its body is (for the OpenAPI description)."""

    method: str
    path: str
    endpoint: Endpoint
    role: str | None
    summary: str
    body: str | None = None  # "json", "records"


OPERATIONS = [
    Operation("GET", "/healthz", meta.healthz, None, "The server is up"),
    Operation("GET", "/metrics", meta.metrics, "read", "Prometheus metrics"),
    Operation("GET", "/v1/openapi.json", meta.openapi, None, "This description"),
    Operation("GET", "/v1/streams", streams.list_streams, "read", "List streams"),
    Operation("POST", "/v1/streams", streams.create_stream, "write", "Create a stream", "json"),
    Operation("GET", "/v1/streams/{stream}", streams.get_stream, "read", "Describe a stream"),
    Operation("DELETE", "/v1/streams/{stream}", streams.drop_stream, "admin", "Drop a stream"),
    Operation(
        "POST", "/v1/streams/{stream}/records", streams.append, "write",
        "Append records (JSON object or array, NDJSON, CSV, Arrow IPC stream)", "records",
    ),
    Operation(
        "GET", "/v1/streams/{stream}/records", streams.read, "read",
        "Records by offset (offset, count), by time (start, end) or the newest (tail)",
    ),
    Operation("GET", "/v1/streams/{stream}/events", streams.events, "read", "Live tail (SSE)"),
    Operation("GET", "/v1/streams/{stream}/monitors", monitors.list_monitors, "read", "Monitors"),
    Operation(
        "POST", "/v1/streams/{stream}/indexes", monitors.add_index, "write", "Add an index",
        "json",
    ),
    Operation(
        "POST", "/v1/streams/{stream}/filters", monitors.add_filter, "write", "Add a filter",
        "json",
    ),
    Operation(
        "POST", "/v1/streams/{stream}/aggregates", monitors.add_aggregate, "write",
        "Add an aggregate", "json",
    ),
    Operation(
        "POST", "/v1/streams/{stream}/triggers", monitors.add_trigger, "write",
        "Install a trigger", "json",
    ),
    Operation(
        "DELETE", "/v1/streams/{stream}/{kind}/{name}", monitors.remove, "write",
        "Remove an index, filter, aggregate or trigger",
    ),
    Operation(
        "GET", "/v1/streams/{stream}/aggregates/{name}", monitors.aggregate_value, "read",
        "An aggregate's value over [start, end)",
    ),
    Operation(
        "GET", "/v1/streams/{stream}/aggregates/{name}/series", monitors.aggregate_series,
        "read", "An aggregate per step over [start, end)",
    ),
    Operation(
        "GET", "/v1/streams/{stream}/filters/{name}/records", monitors.filter_records, "read",
        "The records a filter matched in [start, end)",
    ),
    Operation(
        "GET", "/v1/streams/{stream}/matches", monitors.execute_filter, "read",
        "The records an ad-hoc expression matches in [start, end)",
    ),
    Operation(
        "POST", "/v1/streams/{stream}/webhooks", monitors.add_webhook, "write",
        "Post alerts to a URL", "json",
    ),
    Operation(
        "DELETE", "/v1/streams/{stream}/webhooks", monitors.remove_webhook, "write",
        "Stop posting alerts to a URL", "json",
    ),
    Operation("GET", "/v1/alerts", live.list_alerts, "read", "Alerts"),
    Operation("GET", "/v1/alerts/events", live.alert_events, "read", "Alerts as they fire (SSE)"),
    Operation("POST", "/v1/sql", queries.sql, "read", "Run a SELECT (DuckDB SQL)", "json"),
    Operation("POST", "/v1/rtsql", queries.rtsql, "read", "Run an rtsql statement", "json"),
    Operation("GET", "/v1/settings", queries.settings, "read", "Session settings"),
    Operation("POST", "/v1/settings", queries.set_setting, "write", "Set a setting", "json"),
    Operation("GET", "/v1/flows", live.list_flows, "read", "Running flows"),
    Operation("GET", "/v1/flows/{flow}", live.get_flow, "read", "One flow"),
    Operation("DELETE", "/v1/flows/{flow}", live.cancel_flow, "write", "Cancel a flow"),
    Operation(
        "PUT", "/v1/flows/{flow}/name", live.name_flow, "write",
        "Attach a stream name to a running flow: a new stream gets its output", "json",
    ),
    Operation(
        "DELETE", "/v1/flows/{flow}/name", live.unname_flow, "admin",
        "Remove a flow's attached stream name (the flow goes on, its stream is dropped)",
    ),
    Operation("GET", "/v1/flows/{flow}/events", live.flow_events, "read", "A flow's rows (SSE)"),
]  # fmt: skip


def guarded(operation: Operation) -> Endpoint:
    """The endpoint behind the token check, with its errors answered as JSON and its
    latency counted."""

    async def endpoint(request: Request) -> Response:
        began = time.perf_counter()
        state: ServerState = request.app.state.rillet
        response = _authorize(request, state.config, operation.role)
        if response is None:
            try:
                response = await operation.endpoint(request)
            except RilletError as exc:
                response = error_response(exc)
            except BodyTooLarge as exc:
                response = refusal(
                    413, "BodyTooLarge", f"the body is larger than {exc.args[0]:,} bytes",
                    limit=exc.args[0],
                )  # fmt: skip
            except UnicodeDecodeError as exc:
                response = refusal(400, "InputError", f"the body is not UTF-8 text: {exc}")
            except RecursionError:
                response = refusal(400, "InputError", "the request is nested too deeply to be read")
        state.metrics.requests.labels(
            operation.path, operation.method, str(response.status_code)
        ).observe(time.perf_counter() - began)
        return response

    return endpoint


def _authorize(request: Request, config: ServerConfig, role: str | None) -> Response | None:
    if not config.tokens:
        request.state.role = "admin"
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    held = config.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    if role is None:
        request.state.role = held or "none"
        return None
    if held is None:
        return refusal(
            401, "AuthenticationError", "a valid 'Authorization: Bearer <token>' is required"
        )
    request.state.role = held
    if ROLES[held] < ROLES[role]:
        return refusal(
            403, "AccessError", f"this needs a {role} token; the token given is {held}",
            role=held, needed=role,
        )  # fmt: skip
    return None


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return refusal(
            405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}"
        )
    return refusal(exc.status_code, "NotFoundError", f"no such path: {request.url.path}")


async def _internal(request: Request, exc: Exception) -> Response:
    return refusal(500, "InternalError", f"{type(exc).__name__}: {exc}")


def build_app(
    db: Database, config: ServerConfig | None = None, extra: list[BaseRoute] | None = None
) -> Starlette:
    """The server's application over the open database ``db``; ``extra`` routes (the
    dashboard's) come after the API's."""
    config = config or ServerConfig()
    state = ServerState(db, config)
    # SQL over HTTP reads the database's own files and nothing else
    db.confine_sql([config.data] if config.data is not None else [])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.stop()

    routes: list[BaseRoute] = [
        Route(op.path, guarded(op), methods=[op.method]) for op in OPERATIONS
    ]
    app = Starlette(
        routes=[*routes, *(extra or [])],
        lifespan=lifespan,
        exception_handlers={HTTPException: _not_found, Exception: _internal},
    )
    app.state.rillet = state
    app.state.openapi = spec(OPERATIONS)
    return app
