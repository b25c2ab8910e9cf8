"""Every error class of :mod:`rillet.errors` raised in a real server's endpoint comes back to
the remote client as the same class with the same message and fields, with the status the
server gives that class (4xx for what a request did wrong, 429/503 with Retry-After)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import rillet
from rillet import errors
from rillet.client.http import CLASSES, Connection
from rillet.server import ServerConfig, build_app
from rillet.server.app import Operation, guarded
from tests.server.conftest import free_port

DETAIL = {"stream": "req", "column": "ms", "row": 3, "value": "slow", "line": 2, "col": 7}
STATUS = {
    "NotFoundError": 404, "UnknownColumnError": 404, "UnknownIntervalError": 404,
    "ConflictError": 409, "LockedError": 409, "AccessError": 403, "OverloadedError": 429,
    "UnavailableError": 503, "BackendUnavailableError": 503, "StorageError": 503,
    "CorruptionError": 503,
}  # fmt: skip


async def _raise(request: Request) -> Response:
    name = request.query_params["name"]
    raise CLASSES[name](f"a {name} with its fields", **DETAIL)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("errors")
    db = rillet.connect(folder)
    raising = Operation("GET", "/test/raise", _raise, None, "raise the error named")
    app = build_app(db, ServerConfig(data=folder), [Route("/test/raise", guarded(raising))])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    db.close()


def test_the_client_knows_every_error_class() -> None:
    tree = {
        name for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.RilletError)
    }  # fmt: skip
    assert set(CLASSES) == tree and len(tree) >= 20


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_error_class_round_trips_with_its_fields_and_status(url: str, name: str) -> None:
    connection = Connection(url)
    answer = connection.http.get("/test/raise", params={"name": name})
    assert answer.status_code == STATUS.get(name, 400)
    assert answer.json() == {
        "error": name,
        "message": f"a {name} with its fields",
        "detail": DETAIL,
    }
    if answer.status_code in (429, 503):
        assert answer.headers["retry-after"] == "1"
    with pytest.raises(errors.RilletError) as caught:
        connection.call("GET", "/test/raise", params={"name": name})
    assert type(caught.value) is CLASSES[name]
    assert str(caught.value) == f"a {name} with its fields"
    assert caught.value.detail == DETAIL
    fields = {key: getattr(caught.value, key) for key in DETAIL}
    assert fields == DETAIL  # as attributes, as the library's own errors carry them
    connection.close()
