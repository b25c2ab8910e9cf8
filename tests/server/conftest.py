"""A real server for the tests: uvicorn on 127.0.0.1 and a free port, over a folder."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

import rillet
from rillet.database import Database
from rillet.server import ServerConfig, build_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_served(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the ``rillet serve`` process answers at ``url``; fail if it ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, process.stderr
            time.sleep(0.1)


def serve_in_thread(db: Database, config: ServerConfig) -> tuple[str, Callable[[], None]]:
    """Serve ``db`` with uvicorn on 127.0.0.1 and a free port, on a daemon thread: its URL,
    once it answers, and a function that stops it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(db, config), host="127.0.0.1", port=port, log_level="warning",
            lifespan="on", timeout_graceful_shutdown=1,
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


@dataclass
class Running:
    url: str
    db: Database
    http: httpx.Client


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a server (``start(tokens=..., ingest_slots=...)``); stopped after the test."""
    stops: list[Callable[[], None]] = []

    def run(**options: object) -> Running:
        folder = tmp_path / f"data{len(stops)}"
        db = rillet.connect(folder)
        config = ServerConfig(data=folder, heartbeat=0.5, **options)  # type: ignore[arg-type]
        url, stop_serving = serve_in_thread(db, config)
        client = httpx.Client(base_url=url, timeout=20)

        def stop() -> None:
            client.close()
            stop_serving()
            db.close()

        stops.append(stop)
        return Running(url, db, client)

    yield run
    for stop in stops:
        stop()


@pytest.fixture
def server(start: Callable[..., Running]) -> Running:
    return start()
