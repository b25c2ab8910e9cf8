"""Errors as HTTP answers: each rillet error class has a status, and the body carries what
the exception carries (``{"error", "message", "detail"}``), so a client can rebuild it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from rillet import errors as e

#: the first class in this list that an error is an instance of gives its status
STATUS: list[tuple[type[e.RilletError], int]] = [
    (e.NotFoundError, 404),
    (e.LockedError, 409),
    (e.ConflictError, 409),
    (e.AccessError, 403),
    (e.OverloadedError, 429),
    (e.UnavailableError, 503),
    (e.StorageError, 503),
    (e.RilletError, 400),
]


def status_of(exc: e.RilletError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON; what JSON has no type for (decimals, bytes, sets) as text."""
    return orjson.dumps(value, default=_text, option=orjson.OPT_NON_STR_KEYS)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def error_body(name: str, message: str, detail: dict[str, Any] | None = None) -> bytes:
    return json_bytes({"error": name, "message": message, "detail": detail or {}})


def error_response(exc: e.RilletError) -> Response:
    status = status_of(exc)
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return Response(
        json_bytes(exc.to_dict()), status, headers=headers, media_type="application/json"
    )


def refusal(status: int, name: str, message: str, **detail: Any) -> Response:
    """An answer the server gives itself (auth, limits, routing), in the same shape."""
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return Response(
        error_body(name, message, detail), status, headers=headers, media_type="application/json"
    )
