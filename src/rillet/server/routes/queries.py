"""Ad-hoc SQL (DuckDB over the streams) and rtsql statements."""

from __future__ import annotations

import time
from typing import Any

import duckdb
from starlette.requests import Request
from starlette.responses import Response

from rillet.errors import AccessError, InputError
from rillet.rtsql import ast
from rillet.rtsql.parser import parse
from rillet.server import wire
from rillet.server.config import ROLES
from rillet.server.routes.common import answer, blocking, field, json_object, state

#: rtsql statements a ``read`` token may run (they change nothing stored)
READ_ONLY = (ast.Select, ast.Show, ast.Describe, ast.Explain)

_parser = duckdb.connect(":memory:")


def only_select(query: str) -> None:
    """SQL over HTTP is one SELECT (or a WITH, VALUES, SHOW, DESCRIBE, SUMMARIZE that reads);
    COPY, ATTACH, SET, INSTALL, LOAD, PRAGMA, CREATE and the rest are refused before they run.
    DuckDB's own parser says which statement it is."""
    try:
        statements = _parser.cursor().extract_statements(query)
    except duckdb.Error:
        return  # a syntax error: the query engine reports it with its line and column
    if len(statements) != 1:
        raise InputError(
            f"POST /v1/sql runs one statement, got {len(statements)}", statements=len(statements)
        )
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        name = str(kind).rsplit(".", 1)[-1]
        raise AccessError(
            f"SQL over HTTP may only read (SELECT): a {name} statement is refused",
            statement=name,
        )


async def sql(request: Request) -> Response:
    data = await json_object(request)
    query = field(data, "sql", str)
    params = field(data, "params", list, required=False)
    include_open = field(data, "include_open", bool, required=False) or False
    only_select(query)
    st = state(request)
    began = time.perf_counter()
    result = await blocking(st.db.sql, query, params, include_open)
    st.metrics.queries.observe(time.perf_counter() - began)
    content, kind = wire.table_body(result.arrow(), request.headers.get("accept"))
    return Response(content, media_type=kind)


async def rtsql(request: Request) -> Response:
    data = await json_object(request)
    text = field(data, "statement", str)
    statement = parse(text)  # a ParseError answers 400 with its line and column
    role = getattr(request.state, "role", "admin")
    needed = _role_for(statement)
    if ROLES[role] < ROLES[needed]:
        raise AccessError(
            f"a {type(statement).__name__} statement{_why.get(needed, '')} needs "
            f"{'an' if needed == 'admin' else 'a'} {needed} token",
            role=role, needed=needed,
        )  # fmt: skip
    st = state(request)
    result = await blocking(st.db.execute, text)
    st.watch_streams()
    kind = type(statement).__name__
    if hasattr(result, "batches"):
        st.feed(result)
        return answer(
            {
                "kind": kind,
                "flow": result.id,
                "columns": ["timestamp", *result.columns],
                "text": f"Started flow: flow[mId={result.id}]",
            },
            201,
        )
    lines: list[str] = list(result)
    return answer({"kind": kind, "text": str(result), "lines": lines})


_why = {"admin": " (it drops a stream, or reads the server's files)"}


def _role_for(statement: object) -> str:
    """The role an rtsql statement needs: as its HTTP endpoint would (DROP STREAM is
    ``DELETE /v1/streams/{s}``: admin); a stream read from the server's files (FROM FILE,
    SOURCE) is admin too, as SQL over HTTP reads no file."""
    if isinstance(statement, READ_ONLY):
        return "read"
    if isinstance(statement, ast.DropStream):
        return "admin"
    if isinstance(statement, ast.CreateStream) and statement.source is not None:
        return "admin"
    return "write"


def flow_json(flow: Any, feed: Any = None) -> dict[str, Any]:
    return {
        "id": flow.id,
        "name": flow.name,
        "attached": flow.attached,
        "query": flow.query,
        "stream": flow.stream,
        "streams": flow.streams,
        "columns": ["timestamp", *flow.columns],
        "running": flow.running,
        "state": flow.state,
        "error": flow.error,
        "watched": feed is not None and feed.clients > 0,
        "records_out": flow.records_out,
        "rate": round(flow.rate, 3),
        "lag": flow.lag,
        "late_events": flow.late_events,
        "dropped_events": flow.dropped_events,
    }


async def settings(request: Request) -> Response:
    """The session settings (``rillet.*``): what ``db.config`` holds."""
    return answer(dict(state(request).db.config))


async def set_setting(request: Request) -> Response:
    data = await json_object(request)
    key = field(data, "key", str)
    if "value" not in data:
        raise InputError("field 'value' is required", field="value")
    db = state(request).db
    await blocking(db.set, key, data["value"])
    return answer(dict(db.config))
