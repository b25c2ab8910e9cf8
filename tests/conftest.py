"""Fixtures shared by every test: a data folder, and databases on it and in memory.

A test module that needs other settings defines its own fixture of the same name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rillet
from tests.unit.support import MANUAL


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(folder: Path) -> Iterator[rillet.Database]:
    """A database in ``folder`` whose sealing and retention the test calls by hand."""
    with rillet.connect(folder, **MANUAL) as database:
        yield database


@pytest.fixture
def mem() -> Iterator[rillet.Database]:
    """An in-memory database, sealing and retention by hand."""
    with rillet.connect(**MANUAL) as database:
        yield database
