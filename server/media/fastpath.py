"""The live viewers' hot path, as plain ASGI in front of the app's middleware and router.

Every viewer asks for the live playlist, parts and segments several times a second: at a thousand
viewers that is thousands of requests a second, each answered with bytes the live edge already holds.
Through Starlette they would each cost a router walk over every route, four middlewares and a Request
and Response object; here they cost a regex match, a dict lookup and two `send`s. Anything this does
not recognise, or cannot answer from memory (no live edge, an old segment on disk, a malformed blocking
reload), goes on to the app unchanged (server/media/static.py answers it, with the same headers).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from .static import (
    BLOCK_TARGET_DURATIONS,
    BLOCKING_PLAYLIST_CACHE,
    IMMUTABLE_CACHE,
    LIVE_PLAYLIST_CACHE,
    MAX_MSN_AHEAD,
    PLAYLIST_TYPE,
    TS_TYPE,
)

if TYPE_CHECKING:
    from .live import LiveEdge
    from .service import MediaService

_PATH = re.compile(
    r"^/live/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/(?:(screen)/)?(?:(360p)/)?(index\.m3u8|\d{6}\.ts|\d{6}\.\d{1,3}\.ts)$"
)
# What hls.js and Safari send; anything else (other orders, extra parameters) takes the slow path.
_BLOCKING = re.compile(rb"^_HLS_msn=(\d{1,9})(?:&_HLS_part=(\d{1,4}))?(&_HLS_skip=(?:YES|v2))?$")
_SKIP = (b"_HLS_skip=YES", b"_HLS_skip=v2")  # a plain reload asking for the delta update
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


def _headers(media_type: str, cache: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", media_type.encode()), (b"cache-control", cache.encode()), *_COMMON]


_PLAYLIST = _headers(PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)
_BLOCKED_PLAYLIST = _headers(PLAYLIST_TYPE, BLOCKING_PLAYLIST_CACHE)
_MEDIA = _headers(TS_TYPE, IMMUTABLE_CACHE)
_ERROR = _headers("application/json", "no-store")


class LiveFastPath:
    def __init__(self, app: ASGIApp, service: MediaService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _PATH.match(scope["path"])
            if match is not None and await self._answer(match, scope, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, match: re.Match[str], scope: Scope, send: Send) -> bool:
        feed = self.service.feed(match.group(1), "screen" if match.group(2) else "camera")
        edge = feed.edge if feed is not None else None
        if match.group(3):  # the low rendition
            edge = feed.low.edge if feed is not None and feed.low is not None else None
        if edge is None or edge.playlist is None:
            return False
        name = match.group(4)
        query: bytes = scope["query_string"]
        wait = BLOCK_TARGET_DURATIONS * self.service.segment_seconds
        head = scope["method"] == "HEAD"
        if name == "index.m3u8":
            if not query or query in _SKIP:
                await _send(send, 200, _PLAYLIST, edge.playlist_for(bool(query)), head)
                return True
            return await self._blocking_reload(edge, query, wait, send, head)
        if query:
            return False
        body = edge.blobs.get(name)
        if body is None:
            upcoming = edge.upcoming_part(name)
            if upcoming is None:
                return False  # an older segment on disk, or a 404: the app's answer
            await edge.wait_for(*upcoming, wait)
            body = edge.blobs.get(name)
            if body is None:
                await _error(send, 404, "not_found", "no such part (the segment closed without it)", head)
                return True
        await _send(send, 200, _MEDIA, body, head)
        return True

    async def _blocking_reload(self, edge: LiveEdge, query: bytes, wait: float, send: Send, head: bool) -> bool:
        position = _BLOCKING.match(query)
        if position is None:
            return False
        sequence = int(position.group(1))
        part = int(position.group(2)) if position.group(2) is not None else None
        if sequence > edge.next_sequence + MAX_MSN_AHEAD:
            return False  # the app refuses it with a 400
        if not await edge.wait_for(sequence, part, wait):
            if edge.ended:
                return False  # the app answers the final playlist
            await _error(send, 503, "not_yet", "that part did not arrive in time; reload the playlist", head)
            return True
        await _send(send, 200, _BLOCKED_PLAYLIST, edge.playlist_for(position.group(3) is not None), head)
        return True


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _error(send: Send, status: int, code: str, message: str, head: bool) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await _send(send, status, _ERROR, body, head)
