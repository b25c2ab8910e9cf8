"""The server's own endpoints: health, metrics, the OpenAPI description."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

import rillet
from rillet.server.routes.common import answer, state


async def healthz(request: Request) -> Response:
    st = state(request)
    return answer(
        {
            "status": "ok",
            "version": rillet.__version__,
            "uptime_s": round(time.time() - st.started, 3),
            "streams": len(st.db.streams()),
            "flows": len(st.db.flows()),
            "auth": bool(st.config.tokens),
        }
    )


async def metrics(request: Request) -> Response:
    return Response(
        state(request).metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


async def openapi(request: Request) -> Response:
    return answer(request.app.state.openapi)
