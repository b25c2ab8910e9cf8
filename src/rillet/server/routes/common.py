"""What every endpoint does the same way: find the server state, read a bounded body, answer
JSON, and run the engine's blocking calls off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rillet.errors import InputError
from rillet.server.errors import json_bytes
from rillet.server.state import ServerState

T = TypeVar("T")


class BodyTooLarge(Exception):
    """The body passed the server's limit (answered 413)."""


def state(request: Request) -> ServerState:
    found: ServerState = request.app.state.rillet
    return found


async def body(request: Request) -> bytes:
    """The request body, refused (413) past the server's ``max_body`` bytes."""
    limit = state(request).config.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """A body that must be a JSON object (a stream's or a monitor's definition)."""
    import orjson

    raw = await body(request)
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"the body is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            line=exc.lineno,
            col=exc.colno,
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"the body must be a JSON object, not {type(value).__name__}")
    return value


def field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = True
) -> Any:
    """``data[name]`` checked: missing or of the wrong JSON type is an InputError naming it."""
    if name not in data or data[name] is None:
        if required:
            raise InputError(f"field {name!r} is required", field=name)
        return None
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"field {name!r} must be {names}, got {type(value).__name__}", field=name)
    return value


def answer(value: Any, status: int = 200) -> Response:
    return Response(json_bytes(value), status, media_type="application/json")


async def blocking(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(call, *args, **kwargs)
