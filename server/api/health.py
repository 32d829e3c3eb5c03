"""HTTP: liveness/readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import openapi
from server.context import ctx


async def healthz(request: Request) -> JSONResponse:
    c = ctx(request)
    try:
        async with c.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # the database being down is what this endpoint reports
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def metrics(request: Request) -> Response:
    return Response(ctx(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi.build(request.app.routes, "1"))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
]
