"""The web dashboard: a static single page served by ``rillet serve`` at ``/``.

The page is plain HTML, CSS and JavaScript modules under ``static/``, with its two libraries
(uPlot and a CodeMirror 6 bundle) vendored as built files, so nothing is built at install time
and the browser asks no outside host for anything.  All data comes from the HTTP API.

Examples:
    >>> [route.path for route in routes()]
    ['/', '/static']
"""

from __future__ import annotations

from rillet.dashboard.assets import STATIC_DIR, routes

__all__ = ["STATIC_DIR", "routes"]
