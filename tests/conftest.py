"""Fixtures shared by every test: a data folder, databases on it and in memory, the clock they
consult, and webhook receivers.

A test module that needs other settings defines its own fixture of the same name (``clock``,
say, to hand the databases a FakeClock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rillet
from tests.unit.support import MANUAL, Endpoint


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> Callable[[], float]:
    """What ``db`` and ``mem`` read the time from (for idleness): the wall clock."""
    return time.time


@pytest.fixture
def db(folder: Path, clock: Callable[[], float]) -> Iterator[rillet.Database]:
    """A database in ``folder`` whose sealing and retention the test calls by hand."""
    with rillet.connect(folder, clock=clock, **MANUAL) as database:
        yield database


@pytest.fixture
def mem(clock: Callable[[], float]) -> Iterator[rillet.Database]:
    """An in-memory database, sealing and retention by hand."""
    with rillet.connect(clock=clock, **MANUAL) as database:
        yield database


@pytest.fixture
def endpoints() -> Iterator[Callable[..., Endpoint]]:
    """Makes webhook receivers (``endpoints(fail_first=2)``), closed after the test."""
    made: list[Endpoint] = []

    def make(fail_first: int = 0, gate: threading.Event | None = None) -> Endpoint:
        made.append(Endpoint(fail_first, gate))
        return made[-1]

    yield make
    for each in made:
        each.close()
