"""One JSON error shape for every failure: {"error": {"code", "message"}} with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from server.realtime.bus import BusUnavailable

log = logging.getLogger("sitecast.errors")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}

# Seconds a client should wait before retrying while an engine is down: reconnecting takes about this.
RETRY_UNAVAILABLE_S = 2

# The engines being away (PostgreSQL restarting, Redis unreachable, SQLite locked past its timeout):
# a 503 the client may retry, never a 500. Each process reconnects by itself (pool pre-ping, redis-py).
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    BusUnavailable,
)


def engine_unavailable(exc: BaseException) -> bool:
    """True for an exception that means "the database or Redis is away now", not a bug."""
    if isinstance(exc, UNAVAILABLE):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, BusUnavailable)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    headers = dict(headers or {})
    if "retry_after" in extra and extra["retry_after"] is not None:
        headers["Retry-After"] = str(max(1, round(float(extra["retry_after"]))))
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's own Allow names only the first route
    that matched the path, and we declare one route per method."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def unavailable_response() -> JSONResponse:
    return error_response(
        503, "unavailable", "the service is briefly unavailable; try again shortly", retry_after=RETRY_UNAVAILABLE_S
    )


async def unavailable_handler(request: Request, exc: Exception) -> Response:
    if not engine_unavailable(exc):
        return await unhandled_handler(request, exc)
    log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
    return unavailable_response()


async def unhandled_handler(request: Request, exc: Exception) -> Response:
    # Bad input must never land here; this is the last guard so a bug is still a JSON answer, logged.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error")


HANDLERS: dict[Any, Any] = {
    ApiError: api_error_handler,
    HTTPException: http_exception_handler,
    DBAPIError: unavailable_handler,
    DisconnectionError: unavailable_handler,
    PoolTimeoutError: unavailable_handler,
    RedisConnectionError: unavailable_handler,
    RedisTimeoutError: unavailable_handler,
    ConnectionError: unavailable_handler,
    BusUnavailable: unavailable_handler,
    Exception: unhandled_handler,
}
