"""A real uvicorn server on a free loopback port, run on a thread for one test module."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class Served:
    """``with Served(make) as s: s.url`` serves the app ``make()`` answers on 127.0.0.1
    until the block ends.

    ``stop()`` and ``start()`` restart it on the same port with a new app, as a restarted
    server process would be (the page must reconnect)."""

    def __init__(self, make: Callable[[], ASGIApp]) -> None:
        self.make = make
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self.make(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            # open event streams would hold a graceful shutdown for ever
            self._server.force_exit = True
            self._thread.join(10)
        self._server = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """The response of GET ``path`` (status, headers and body read)."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        return urllib.request.urlopen(request, timeout=10)

    def __enter__(self) -> Served:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
