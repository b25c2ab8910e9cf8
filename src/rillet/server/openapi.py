"""The OpenAPI 3.1 description (``/v1/openapi.json``), made from the server's own table of
operations, so it cannot drift from what is served."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import rillet

ERROR = {
    "type": "object",
    "required": ["error", "message", "detail"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "detail": {"type": "object"},
    },
}
BODIES: dict[str, dict[str, Any]] = {
    "json": {"content": {"application/json": {"schema": {"type": "object"}}}},
    "records": {
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.arrow.stream": {
                "schema": {"type": "string", "format": "binary"}
            },
        }
    },
}
QUERY = {
    "read": ["offset", "count", "tail", "start", "end"],
    "aggregate_value": ["start", "end"],
    "aggregate_series": ["start", "end", "step"],
    "filter_records": ["start", "end"],
    "list_alerts": ["stream", "trigger", "start", "end"],
    "alert_events": ["stream", "trigger"],
    "events": ["offset"],
    "execute_filter": ["expression", "start", "end"],
}


def spec(operations: Sequence[Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in QUERY.get(op.endpoint.__name__, [])
        ]
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{op.endpoint.__name__}",
            "parameters": parameters,
            "responses": {
                "2XX": {"description": "done"},
                "4XX": {
                    "description": "refused; nothing changed",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
        if op.role is not None:
            entry["security"] = [{"bearer": []}]
            entry["x-role"] = op.role
        if op.body is not None:
            entry["requestBody"] = {"required": op.body == "records", **BODIES[op.body]}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "rillet", "version": rillet.__version__},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
    }
