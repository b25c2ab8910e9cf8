"""Starlette routes serving the dashboard's page and its static files with cache headers."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# The page's own files change with each release of rillet but keep their names, so the browser
# must revalidate them (ETag / Last-Modified make that a cheap 304); the vendored libraries
# change only when scripts/build-dashboard-assets.sh is rerun, so a day of caching is safe.
REVALIDATE = "no-cache"
VENDOR = "public, max-age=86400"


class CachedStaticFiles(StaticFiles):
    """StaticFiles that adds a Cache-Control header chosen by the file's folder."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendored = Path(full_path).parent.name == "vendor"
        response.headers["Cache-Control"] = VENDOR if vendored else REVALIDATE
        return response


async def index(request: Request) -> Response:
    """The page itself; every view is drawn in the browser from the API."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": REVALIDATE})


def routes() -> list[BaseRoute]:
    """The dashboard's routes: ``/`` (the page) and ``/static/...`` (its assets).

    Mount them next to the API's routes; the page needs no role of its own (it holds no data)
    and asks the API for everything with the token the user gives it.
    """
    return [
        Route("/", index, methods=["GET", "HEAD"], name="dashboard"),
        Mount("/static", app=CachedStaticFiles(directory=STATIC_DIR), name="dashboard-static"),
    ]
