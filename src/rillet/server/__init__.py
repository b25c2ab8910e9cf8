"""rillet's HTTP server (``rillet serve``): the library's API over HTTP under ``/v1``, live
flows and alerts as server-sent events, ``/metrics``, ``/healthz`` and token auth.

:func:`~rillet.server.app.build_app` makes the Starlette application over an open database;
:func:`~rillet.server.run.serve` runs it with uvicorn until SIGTERM.
"""

from rillet.server.app import build_app
from rillet.server.config import ServerConfig

__all__ = ["ServerConfig", "build_app"]
