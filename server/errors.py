"""One JSON error shape for every failure: {"error": {"code", "message"}} with a fitting status."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.websockets import WebSocket, WebSocketState

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


# PostgreSQL's SQLSTATE classes that mean "not now" rather than a bug: connection exceptions (08),
# insufficient resources (53: too many connections, out of memory or disk), and the server shutting down or
# starting (57P01–57P03). asyncpg's errors reach us as a plain DBAPIError, so the code decides.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


def _sqlstate(exc: BaseException) -> str:
    for candidate in (getattr(exc, "orig", None), exc.__cause__, exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def engine_unavailable(exc: BaseException) -> bool:
    """True for an exception that means "the database or Redis is away now", not a bug."""
    if isinstance(exc, UNAVAILABLE):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES)
    ):
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


async def close_websocket(websocket: WebSocket, exc: Exception) -> None:
    """A WebSocket route's failure (Starlette sends no response for a socket). Before the upgrade: refused
    with the same JSON answer as HTTP (denial response). After: closed with a code the client can act on,
    1008 for a refusal, 1013 "try again later" while an engine is away, 1011 for a bug."""
    code, reason, response = websocket_refusal(exc, websocket.url.path)
    with contextlib.suppress(Exception):  # the client may be gone already
        upgrade = websocket.client_state is WebSocketState.CONNECTING
        if upgrade and "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(response)
        else:
            await websocket.close(code, reason)


def websocket_refusal(exc: Exception, path: str) -> tuple[int, str, Response]:
    """What a WebSocket's failure `exc` answers: (close code, its reason, the denial response before the upgrade)."""
    if isinstance(exc, ApiError):
        code, response = 1008, error_response(exc.status, exc.code, exc.message, **exc.extra)
        reason = exc.message
    elif isinstance(exc, HTTPException):
        code, reason = 1008, str(exc.detail)
        response = error_response(exc.status_code, _CODES.get(exc.status_code, "error"), reason)
    elif engine_unavailable(exc):
        log.warning("1013 on WebSocket %s: %s", path, exc)
        code, reason, response = 1013, "the service is briefly unavailable; try again shortly", unavailable_response()
    else:
        log.exception("unhandled error on WebSocket %s", path, exc_info=exc)
        code, reason, response = 1011, "internal error", error_response(500, "internal", "internal error")
    return code, reason.encode()[:123].decode(errors="ignore"), response


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _http_or_websocket(handler: Handler) -> Callable[[HTTPConnection, Exception], Awaitable[Response | None]]:
    async def handle(conn: HTTPConnection, exc: Exception) -> Response | None:
        if conn.scope["type"] == "websocket":
            await close_websocket(cast(WebSocket, conn), exc)
            return None
        return await handler(cast(Request, conn), exc)

    return handle


HANDLERS: dict[Any, Any] = {
    kind: _http_or_websocket(handler)
    for kind, handler in (
        (ApiError, api_error_handler),
        (HTTPException, http_exception_handler),
        (DBAPIError, unavailable_handler),
        (DisconnectionError, unavailable_handler),
        (PoolTimeoutError, unavailable_handler),
        (RedisConnectionError, unavailable_handler),
        (RedisTimeoutError, unavailable_handler),
        (ConnectionError, unavailable_handler),
        (BusUnavailable, unavailable_handler),
        (Exception, unhandled_handler),
    )
}
