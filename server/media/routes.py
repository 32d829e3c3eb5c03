"""HTTP routes for WHIP, WHEP and HLS files; the app supplies `authorize`.

`authorize(request, slug, "publish" | "watch")` runs first on every WHIP/WHEP request that
carries a session or an offer (before the body is read) and raises
`starlette.exceptions.HTTPException` itself. For a WHIP offer it may return who publishes (a stage
`Identity`: an expert, their screen, a viewer invited on air); None makes the source the member.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .cors import preflight, with_cors
from .errors import MediaError
from .sdp import MAX_SDP_BYTES
from .service import SOURCES, MediaService
from .stage import Identity
from .static import archive_file, live_file

logger = logging.getLogger(__name__)

Authorize = Callable[[Request, str, Literal["publish", "watch"]], Awaitable[Identity | None]]

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def media_routes(service: MediaService, authorize: Authorize) -> list[Route]:
    """WHIP at /whip/{slug}, WHEP at /whep/{slug}, HLS under /live/{slug} and /archive/{slug}."""

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            response = await answer(request)
            return with_cors(request, response) if request.url.path.startswith(("/whip/", "/whep/")) else response

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except MediaError as exc:
                if request.method == "POST":  # an offer refused: say why, where operators look
                    logger.warning(
                        "%s offer for %s refused (%d %s): %s",
                        request.url.path.split("/")[1].upper(),
                        request.path_params.get("slug"),
                        exc.status,
                        exc.code,
                        exc.message,
                    )
                return error_response(exc.status, exc.code, exc.message)
            except HTTPException as exc:
                code = _STATUS_CODES.get(exc.status_code, "error")
                return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))
            except ClientDisconnect:
                return Response(status_code=400)
            except Exception:  # a bug, not bad input: log it, answer in the agreed error shape
                logger.exception("media route %s %s failed", request.method, request.url.path)
                return error_response(500, "internal", "internal media error")

        return endpoint

    async def whip_post(request: Request) -> Response:
        slug = request.path_params["slug"]
        identity = await authorize(request, slug, "publish")
        source = request.query_params.get("source", "camera")
        if source not in SOURCES:
            raise MediaError(400, "bad_source", f"source must be one of {', '.join(SOURCES)}")
        offer = await _read_body(request, SDP)
        session_id, answer = await service.publish(slug, source, offer, identity)  # type: ignore[arg-type]
        return _created(f"/whip/{slug}/{session_id}", answer)

    async def whep_post(request: Request) -> Response:
        slug = request.path_params["slug"]
        await authorize(request, slug, "watch")
        member = request.query_params.get("member")
        offer = await _read_body(request, SDP)
        session_id, answer = await service.watch(slug, offer, member=member)
        return _created(f"/whep/{slug}/{session_id}", answer)

    def session_endpoint(kind: Literal["whip", "whep"]) -> Callable[[Request], Awaitable[Response]]:
        mode: Literal["publish", "watch"] = "publish" if kind == "whip" else "watch"

        async def handler(request: Request) -> Response:
            slug = request.path_params["slug"]
            session_id = request.path_params["session_id"]
            if request.method == "OPTIONS":
                return preflight(request, "OPTIONS, PATCH, DELETE")
            await authorize(request, slug, mode)
            if request.method == "PATCH":
                frag = await _read_body(request, SDPFRAG)
                await service.trickle(slug, session_id, frag, kind)
                return Response(status_code=204)
            await service.end_session(slug, session_id, kind)  # idempotent: an ended session is 200 too
            return Response(status_code=200)

        return handler

    async def options(request: Request) -> Response:
        return preflight(request, "OPTIONS, POST")

    async def live(request: Request) -> Response:
        return await live_file(service, request.path_params["slug"], request.path_params["path"], request.query_params)

    async def archive(request: Request) -> Response:
        return archive_file(service, request.path_params["slug"], request.path_params["path"])

    whip_session = guarded(session_endpoint("whip"))
    whep_session = guarded(session_endpoint("whep"))
    return [
        Route("/whip/{slug}", guarded(whip_post), methods=["POST"]),
        Route("/whip/{slug}", guarded(options), methods=["OPTIONS"]),
        Route("/whip/{slug}/{session_id}", whip_session, methods=["PATCH", "DELETE", "OPTIONS"]),
        Route("/whep/{slug}", guarded(whep_post), methods=["POST"]),
        Route("/whep/{slug}", guarded(options), methods=["OPTIONS"]),
        Route("/whep/{slug}/{session_id}", whep_session, methods=["PATCH", "DELETE", "OPTIONS"]),
        Route("/live/{slug}/{path:path}", guarded(live), methods=["GET", "HEAD"]),
        Route("/archive/{slug}/{path:path}", guarded(archive), methods=["GET", "HEAD"]),
    ]


async def _read_body(request: Request, content_type: str) -> str:
    given = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given != content_type:
        raise MediaError(415, "unsupported_media_type", f"Content-Type must be {content_type}")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_SDP_BYTES):
        raise MediaError(413, "too_large", f"body is capped at {MAX_SDP_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SDP_BYTES:
            raise MediaError(413, "too_large", f"body is capped at {MAX_SDP_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaError(400, "bad_sdp", "body is not UTF-8") from None


def _created(location: str, answer: str) -> Response:
    return Response(
        answer,
        status_code=201,
        media_type=SDP,
        headers={"Location": location, "Accept-Patch": SDPFRAG},
    )
