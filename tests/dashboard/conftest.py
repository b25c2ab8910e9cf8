"""Fixtures of the dashboard's end-to-end tests: a real server (uvicorn on a free port) over a
real database, Debian's chromium driven by Playwright, and the folder screenshots go to.

The tests skip, saying why, where chromium or Playwright's Python package is absent (CI's
``.ci/run`` installs chromium when it is missing).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet.dashboard import routes
from tests.dashboard.served import Served

CHROMIUM = Path("/usr/bin/chromium")
SHOTS: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SHOTS:
        terminalreporter.write_line(f"dashboard screenshots: {SHOTS[0]}")


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots of each view go; the run's summary prints the folder."""
    folder = tmp_path_factory.getbasetemp() / "dashboard-screenshots"
    folder.mkdir(exist_ok=True)
    if not SHOTS:
        SHOTS.append(folder)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def build(db: rillet.Database, folder: Path) -> Any:
    """The server's app with the dashboard's routes mounted, as ``rillet serve`` makes it."""
    server = pytest.importorskip(
        "rillet.server", reason="the HTTP server (rillet.server) is not in this build"
    )
    config = server.ServerConfig(data=folder, heartbeat=1.0)
    return server.build_app(db, config, extra=routes())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard") / "data"


@pytest.fixture(scope="module")
def database(folder: Path) -> Iterator[rillet.Database]:
    with rillet.connect(folder) as db:
        yield db


@pytest.fixture(scope="module")
def server(database: rillet.Database, folder: Path, browser: Any) -> Iterator[Served]:
    # one app for the module: a restart test serves it again (the database stays open)
    app = build(database, folder)
    with Served(lambda: app) as served:
        yield served


def call(served: Served, method: str, path: str, body: Any = None) -> Any:
    """One JSON request to the server; the decoded answer (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        served.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def rows_at(now: dt.datetime, values: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Records of the test streams (ts, host, ms), a millisecond apart, ending at ``now``."""
    start = now - dt.timedelta(milliseconds=len(values))
    return [
        {"ts": (start + dt.timedelta(milliseconds=i)).isoformat(), "host": host, "ms": ms}
        for i, (host, ms) in enumerate(values)
    ]
