"""Requests to the server: one httpx client, errors rebuilt as the library's exceptions
(the same class with the same attributes), Arrow IPC for records and results."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc

from rillet import errors
from rillet.errors import RilletError, UnavailableError
from rillet.time import bound_us, us_to_datetime

ARROW = "application/vnd.apache.arrow.stream"

#: every error class by name: what the server's ``error`` field says
CLASSES: dict[str, type[RilletError]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, RilletError)
}


def rebuilt(answer: httpx.Response) -> RilletError:
    """The exception an error answer describes (a RilletError where the name is unknown)."""
    try:
        body = answer.json()
        name, message, detail = body["error"], body["message"], body.get("detail") or {}
    except (ValueError, KeyError, TypeError):
        return UnavailableError(
            f"the server answered {answer.status_code}: {answer.text[:200]}",
            status=answer.status_code,
        )
    cls = CLASSES.get(name, RilletError)
    if name in ("AuthenticationError", "BodyTooLarge", "MethodNotAllowed", "InternalError"):
        cls = errors.AccessError if answer.status_code in (401, 403) else RilletError
    return cls(message, **detail)


class Connection:
    """The server at ``url``; ``token`` is sent as ``Authorization: Bearer``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.headers = headers
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UnavailableError(f"the server at {self.url} cannot be reached: {exc}") from exc
        if answer.status_code >= 400:
            raise rebuilt(answer)
        return answer

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def table(self, method: str, path: str, **kwargs: Any) -> pa.Table:
        headers = {**kwargs.pop("headers", {}), "accept": ARROW}
        answer = self.call(method, path, headers=headers, **kwargs)
        return ipc.open_stream(answer.content).read_all()

    def close(self) -> None:
        self.http.close()


def time_text(value: Any) -> str | None:
    """A time bound as the server reads it: ISO-8601 text of the first microsecond at or
    after it, as the embedded library rounds (a bound it cannot read is its InputError)."""
    us = bound_us(value)
    if us is None:
        return None
    try:
        return us_to_datetime(us).isoformat()
    except OverflowError:  # past what a datetime holds: as far as one goes, for a range
        far = (
            dt.datetime.max.replace(tzinfo=dt.UTC)
            if us > 0
            else dt.datetime.min.replace(tzinfo=dt.UTC)
        )
        return far.isoformat()


def events(
    connection: Connection, path: str, params: dict[str, str] | None = None, last: str = ""
) -> Iterator[tuple[str, Any]]:
    """The ``(event, data)`` pairs of a server's event stream at ``path``, for as long as
    it lasts: a dropped connection (a server restart) is opened again with ``Last-Event-ID``,
    so nothing is missed or seen twice; ends at an ``end`` event or a 404."""
    while True:
        headers = {"last-event-id": last} if last else {}
        try:
            with connection.http.stream(
                "GET", path, params=params, headers=headers, timeout=None
            ) as answer:
                if answer.status_code == 404:
                    return
                event: dict[str, str] = {}
                for line in answer.iter_lines():
                    if line:
                        key, _, value = line.partition(": ")
                        event[key] = value
                        continue
                    last = event.get("id", last)
                    if "event" in event:
                        yield event["event"], json.loads(event.get("data", "null"))
                        if event["event"] == "end":
                            return
                    event = {}
        except httpx.TransportError:
            time.sleep(0.5)
        except RuntimeError:
            return  # the client was closed
