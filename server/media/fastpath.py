"""The live viewers' hot path: what to answer from memory, and the ASGI layer in front of the app.

Every viewer asks for the live playlist, parts and segments several times a second: at a thousand
viewers that is thousands of requests a second, each answered with bytes the live edge already holds.
`decide` says what the answer is (or which part to wait for first, or that the app must answer);
two layers use it: the raw HTTP path under ASGI (rawhttp.py, what `make run` serves with: no task, no
ASGI messages, `sendfile` for the media) and `LiveFastPath`, plain ASGI in front of the app's middleware
and router, for requests the raw path passes on (another request of the same connection in flight) and
for servers without it. Through Starlette they would each cost a router walk over every route, four
middlewares and a Request and Response object; here a regex match, a dict lookup and two `send`s.
Anything not recognised, or not answerable from memory (no live edge, an old segment on disk, a malformed
or too-far blocking reload), goes on to the app unchanged (server/media/static.py answers it, with the
same headers).

Files are found by their path under the feed, whatever their name: a rendition that publishes its parts
and segments into the edge as `360p/000042.ts` is served like today's `000042.ts`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from .static import (
    BLOCK_TARGET_DURATIONS,
    BLOCKING_PLAYLIST_CACHE,
    IMMUTABLE_CACHE,
    LIVE_PLAYLIST_CACHE,
    MAX_MSN_AHEAD,
    NO_STORE,
    PLAYLIST_TYPE,
    TS_TYPE,
)

if TYPE_CHECKING:
    from .live import DiskFile, LiveEdge, MediaFile
    from .service import MediaService

# /live/{slug}/[screen/][360p/]name: the name is looked up in that rendition's live edge, never on disk here.
PATH = re.compile(
    r"^/live/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/(?:(screen)/)?(?:(360p)/)?"
    r"([A-Za-z0-9][A-Za-z0-9_-]{0,63}(?:\.\d{1,3})?\.(?:m3u8|ts|m4s|mp4))$"
)
LIVE_PLAYLIST_NAME = "index.m3u8"
# What hls.js and Safari send; anything else (other orders, extra parameters) takes the slow path.
_BLOCKING = re.compile(rb"^_HLS_msn=(\d{1,9})(?:&_HLS_part=(\d{1,4}))?(&_HLS_skip=(?:YES|v2))?$")
_SKIP = (b"_HLS_skip=YES", b"_HLS_skip=v2")  # a plain reload asking for the delta update
_COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


class Kind:
    """One kind of answer's headers (all but the length), built once: as ASGI pairs and as raw HTTP lines."""

    __slots__ = ("pairs", "raw")

    def __init__(self, media_type: str, cache: str) -> None:
        self.pairs = ((b"content-type", media_type.encode()), (b"cache-control", cache.encode()), *_COMMON)
        self.raw = b"".join(name + b": " + value + b"\r\n" for name, value in self.pairs)


PLAYLIST = Kind(PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)
BLOCKED_PLAYLIST = Kind(PLAYLIST_TYPE, BLOCKING_PLAYLIST_CACHE)
FINAL_PLAYLIST = Kind(PLAYLIST_TYPE, NO_STORE)  # a blocking reload answered by the stream's end (ENDLIST)
MEDIA = {"ts": Kind(TS_TYPE, IMMUTABLE_CACHE), "m4s": Kind("video/iso.segment", IMMUTABLE_CACHE)}
MEDIA["mp4"] = Kind("video/mp4", IMMUTABLE_CACHE)
ERROR = Kind("application/json", NO_STORE)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    kind: Kind
    body: bytes
    file: MediaFile | DiskFile | None = None  # the body in a memfd (or a segment file), for sendfile


@dataclass(frozen=True, slots=True)
class Wait:
    """Not here yet: park until the edge has (sequence, part), or `seconds` pass; then `settle`."""

    sequence: int
    part: int | None
    seconds: float
    skip: bool = False  # a blocking reload that asked for the delta update


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, ERROR, json.dumps({"error": {"code": code, "message": message}}).encode())


def edge_for(service: MediaService, slug: str, screen: bool, low: bool = False) -> LiveEdge | None:
    """The live edge of the feed's full rendition, or (`low`) of its 360p one."""
    feed = service.feed(slug, "screen" if screen else "camera")
    if feed is None:
        return None
    edge = feed.edge if not low else feed.low.edge if feed.low is not None else None
    return edge if edge is not None and edge.playlist is not None else None


def decide(service: MediaService, edge: LiveEdge, name: str, query: bytes) -> Answer | Wait | None:
    """The answer for GET `name` of this feed with `query`; a `Wait`; or None: the app answers."""
    if name == LIVE_PLAYLIST_NAME:
        assert edge.playlist is not None
        if not query or query in _SKIP:
            return Answer(200, PLAYLIST, edge.playlist_for(bool(query)))
        position = _BLOCKING.match(query)
        if position is None:
            return None
        sequence = int(position.group(1))
        part = int(position.group(2)) if position.group(2) is not None else None
        if sequence > edge.next_sequence + MAX_MSN_AHEAD:
            return None  # the app refuses it with a 400
        skip = position.group(3) is not None
        if edge.has(sequence, part):
            return Answer(200, BLOCKED_PLAYLIST, edge.playlist_for(skip))
        if edge.ended:
            return None  # the app answers the final playlist
        return Wait(sequence, part, BLOCK_TARGET_DURATIONS * service.segment_seconds, skip)
    if query:
        return None
    body = edge.blobs.get(name)
    if body is not None:
        return _media(edge, name, body)
    upcoming = edge.upcoming_part(name)
    if upcoming is None:
        return None  # an older segment on disk, another playlist, or a 404: the app's answer
    return Wait(*upcoming, BLOCK_TARGET_DURATIONS * service.segment_seconds)


def settle(edge: LiveEdge, name: str, wait: Wait) -> Answer:
    """What a parked request gets once its part is here, the stream ended or its time ran out."""
    arrived = edge.has(wait.sequence, wait.part)
    if name == LIVE_PLAYLIST_NAME:
        assert edge.playlist is not None
        if arrived:
            return Answer(200, BLOCKED_PLAYLIST, edge.playlist_for(wait.skip))
        if edge.ended:
            return Answer(200, FINAL_PLAYLIST, edge.playlist)  # with ENDLIST: players stop asking
        return _error(503, "not_yet", "that part did not arrive in time; reload the playlist")
    body = edge.blobs.get(name)
    answer = _media(edge, name, body) if body is not None else None
    return answer or _error(404, "not_found", "no such part (the segment closed without it)")


def _media(edge: LiveEdge, name: str, body: bytes) -> Answer | None:
    kind = MEDIA.get(name.rsplit(".", 1)[1])
    return Answer(200, kind, body, edge.files.get(name)) if kind is not None else None


class LiveFastPath:
    def __init__(self, app: ASGIApp, service: MediaService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = PATH.match(scope["path"])
            if match is not None and await self._answer(match, scope, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, match: re.Match[str], scope: Scope, send: Send) -> bool:
        edge = edge_for(self.service, match.group(1), match.group(2) is not None, match.group(3) is not None)
        if edge is None:
            return False
        name = match.group(4)
        answer = decide(self.service, edge, name, scope["query_string"])
        if isinstance(answer, Wait):
            await edge.wait_for(answer.sequence, answer.part, answer.seconds)
            answer = settle(edge, name, answer)
        if answer is None:
            return False
        length = (b"content-length", str(len(answer.body)).encode())
        await send({"type": "http.response.start", "status": answer.status, "headers": [*answer.kind.pairs, length]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else answer.body})
        return True
