"""The back ends every time-series conformance test runs over, and the fixtures that open them.

Each back end is a URL (or, for ``rillet-remote``, a remote database on a rillet server the
tests start once, a new connection a test); a test parametrized by ``store_url`` runs once
per back end, and is skipped with the reason when the back end's module is not built yet or
its service (the PostgreSQL and Redis of this machine) cannot be reached.  A new back end
plugs in by adding its row to :data:`BACKENDS` (nothing else): ``make_store`` opens a raw
:class:`Store` on it
(tests/timeseries/test_store.py), ``make_timeseries`` a ``Timeseries``
(tests/timeseries/test_conformance.py).  Every store or time series gets a prefix of its own
and is emptied (``delete_all``) after the test, so tests never see each other's rows.
"""

from __future__ import annotations

import importlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rillet
from rillet.database import Database
from rillet.errors import BackendUnavailableError
from rillet.server import ServerConfig
from rillet.timeseries import Timeseries
from rillet.timeseries.backends import module_for, open_store
from rillet.timeseries.store import Store, StoreSpec
from tests.server.conftest import serve_in_thread

PG_URL = os.environ.get("RILLET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RILLET_TEST_REDIS", "redis://127.0.0.1:6379/3")


@dataclass(frozen=True)
class Backend:
    """One back end: its test id and the URL to open (``{tmp}`` is the test's tmp_path);
    ``remote``: open the URL of the test server (:func:`rillet_server`) with
    ``rillet.connect`` and keep the time series in that remote database object."""

    id: str
    url: str
    remote: bool = False

    def target(self, tmp_path: Path) -> str:
        return self.url.replace("{tmp}", str(tmp_path))


BACKENDS = [
    Backend("rillet-memory", "rillet://"),
    Backend("rillet-folder", "rillet://{tmp}/data"),
    Backend("sqlite", "sqlite:///{tmp}/ts.sqlite"),
    Backend("postgresql", PG_URL),
    Backend("redis", REDIS_URL),
    Backend("rillet-remote", "", remote=True),
]

_unique = itertools.count()


def unique_prefix() -> str:
    """A key prefix no other test (nor another run, nor a parallel worker) uses."""
    return f"t{uuid.uuid4().hex[:8]}{next(_unique)}:"


@dataclass
class Served:
    """The test server: its URL and the database it serves."""

    url: str
    db: Database


@pytest.fixture(scope="session")
def rillet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A rillet server (uvicorn on 127.0.0.1, a free port) over a folder, for the session."""
    folder = tmp_path_factory.mktemp("served")
    db = rillet.connect(folder)
    url, stop = serve_in_thread(db, ServerConfig(data=folder, heartbeat=0.5))
    try:
        yield Served(url, db)
    finally:
        stop()
        db.close()


@pytest.fixture(params=BACKENDS, ids=[b.id for b in BACKENDS])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The URL of each back end in turn (the remote database object for a remote one);
    skipped when that back end is not built."""
    backend: Backend = request.param
    if backend.remote:
        served: Served = request.getfixturevalue("rillet_server")
        remote = rillet.connect(served.url)
        request.addfinalizer(remote.close)
        return remote
    url = backend.target(tmp_path)
    module = module_for(url)
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and module.startswith(exc.name):
            pytest.skip(f"back end {module} is not built yet")
        raise
    return url


def _makes(url: Any, open_one: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A fixture's ``make``: opens with ``open_one`` (skipping the test when the back end is
    not reachable); everything made is emptied and closed after the test."""
    made: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        try:
            thing = open_one(*args, **kwargs)
        except BackendUnavailableError as exc:
            pytest.skip(f"back end {url} is not reachable here: {exc}")
        made.append(thing)
        return thing

    yield make
    for thing in made:
        thing.delete_all()
        thing.close()


@pytest.fixture
def make_store(store_url: Any) -> Iterator[Callable[..., Store]]:
    """``make_store(type, intervals=("minute",), prefix=None, **options)``: a raw Store with
    its own prefix (``value_type`` is an option, as a user passes it)."""

    def open_one(
        kind: str,
        intervals: tuple[str, ...] = ("minute",),
        prefix: str | None = None,
        **options: Any,
    ) -> Store:
        spec = StoreSpec(kind, unique_prefix() if prefix is None else prefix, intervals, options)
        return open_store(store_url, spec)

    yield from _makes(store_url, open_one)


@pytest.fixture
def make_timeseries(store_url: Any) -> Iterator[Callable[..., Timeseries]]:
    """``make_timeseries(type=..., intervals=..., **kw)``: a Timeseries with its own prefix."""

    def open_one(**kwargs: Any) -> Timeseries:
        kwargs.setdefault("prefix", unique_prefix())
        return Timeseries(store_url, **kwargs)

    yield from _makes(store_url, open_one)


def rows(kind: str, value_type: pa.DataType | None, records: list[tuple[Any, ...]]) -> pa.Table:
    """A write table from tuples ``(name, interval, i_time, r_time, value[, count], expires)``."""
    from rillet.timeseries.store import write_schema

    schema = write_schema(kind, value_type)
    columns: list[Any] = list(zip(*records, strict=True)) if records else [[] for _ in schema]
    return pa.table(
        {f.name: pa.array(list(c), f.type) for f, c in zip(schema, columns, strict=True)},
        schema=schema,
    )


def count_writes(
    database: Any, stream: str, name: str, interval: str, first: int, last: int
) -> dict[int, dict[int, float]]:
    """A custom ``fetch=`` over ``db.sql``: how many writes reached each bucket of ``name``
    (not their sum), by interval and resolution bucket."""
    rows = database.sql(
        f"SELECT i_time, r_time, count(*) FROM {stream} WHERE name = ? "
        "AND interval = ? AND i_time BETWEEN ? AND ? GROUP BY ALL",
        [name, interval, first, last],
    ).fetchall()
    out: dict[int, dict[int, float]] = {}
    for i, r, n in rows:
        out.setdefault(i, {})[r] = float(n)
    return out
