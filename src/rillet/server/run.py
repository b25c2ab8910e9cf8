"""Running the server: uvicorn over the application until SIGTERM or Ctrl-C, then the
database is closed (every acknowledged record durable, memory sealed) and the process
exits with status 0."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn

import rillet
from rillet.errors import ConfigError
from rillet.server.app import build_app
from rillet.server.config import ServerConfig

DEFAULT_PORT = 9470


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    data: str | None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    config: ServerConfig | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    demo: bool = False,
) -> int:
    """Serve the database in ``data`` (memory when None) until SIGTERM; the exit status."""
    config = config or ServerConfig()
    if not config.tokens and not loopback(host):
        raise ConfigError(
            f"without tokens the server binds to loopback only, not {host!r}: give --token or "
            "--tokens-file to serve other hosts",
            host=host,
        )
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    db = rillet.connect(data) if data else rillet.connect()
    feeder = None
    try:
        config = dataclasses.replace(config, data=Path(data) if data else None)
        app = build_app(db, config, extra=_dashboard())
        if demo:
            from rillet.server.demo import DemoFeed

            feeder = DemoFeed(db)
            feeder.start()
        scheme = "https" if tls_cert else "http"
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(
            f"rillet {rillet.__version__} serving {data or 'memory'} at {scheme}://{shown}:{port}/"
        )
        if not config.tokens:
            print("no tokens: anyone on this machine may read and write; bound to loopback only")
        sys.stdout.flush()
        server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                ssl_certfile=tls_cert,
                ssl_keyfile=tls_key,
                log_level="warning",
                timeout_graceful_shutdown=3,
                lifespan="on",
            )
        )
        server.run()  # SIGTERM and SIGINT: stop accepting, finish requests, lifespan ends
    finally:
        if feeder is not None:
            feeder.stop()
        db.close()
    print("rillet: stopped; every acknowledged record is stored")
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM ends it with status 0: after its graceful
    shutdown uvicorn raises the caught signal again (the process would die of it before
    the database is closed); here the database is closed and ``serve`` returns."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def _dashboard() -> list:  # type: ignore[type-arg]
    """The dashboard's routes, where the package has them."""
    try:
        from rillet.dashboard import routes  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return []
    return list(routes())
