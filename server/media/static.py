"""Serving the HLS files: fixed names only (no path traversal), right types, caching a CDN can use.

Live media comes from the feed's `LiveEdge` (memory) while a publisher is on: one rendered playlist
and the same part/segment bytes for every viewer, no disk and no per-viewer work beyond the
response itself. Older segments, and everything after a restart, come from the directory.

Caching (what nginx's micro-cache and a CDN key on; see deploy/nginx.conf):
  - playlist, plain reload: fresh for 1 s in shared caches (HTTP's smallest max-age; about three
    parts), never in the browser's own cache (max-age=0), so a native player reloading it sees
    the newest the nearest cache has;
  - playlist, blocking reload (`_HLS_msn`/`_HLS_part`): every player waiting for the same part asks
    the same URL and gets the same answer; cacheable for a few seconds, so a cache collapses them;
  - parts and segments never change once published: immutable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import FileResponse, Response

from .errors import MediaError
from .hls import ARCHIVE_PLAYLIST, LIVE_PLAYLIST, RECORDING
from .live import LiveEdge
from .playlist import render_multivariant
from .rendition import LOW_DIRECTORY, variants

if TYPE_CHECKING:
    from .feed import Feed
    from .service import MediaService

# "index.m3u8", "000042.ts", "000042.2.ts" (a part), "recording.mp4", optionally under "screen/", and
# the low rendition's under "360p/"; "master.m3u8", the multivariant playlist naming the renditions.
# Nothing else maps to a file, so "..", absolute paths and encoded separators never reach the filesystem.
_NAME = re.compile(
    r"^(?:(screen)/)?(?:(360p)/)?(index\.m3u8|\d{6}\.ts|\d{6}\.\d{1,3}\.ts|recording\.mp4|master\.m3u8)$"
)
MULTIVARIANT = "master.m3u8"
_PART = re.compile(r"^\d{6}\.\d{1,3}\.ts$")

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
TS_TYPE = "video/mp2t"
LIVE_PLAYLIST_CACHE = "public, max-age=0, s-maxage=1"
BLOCKING_PLAYLIST_CACHE = "public, max-age=6"
# An answer that may change any moment (no live edge yet, a blocking reload that timed out).
NO_STORE = "no-store"
# Segments, parts and finished archives never change once written.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
ARCHIVE_PLAYLIST_CACHE = "public, max-age=3600"
# How long a blocking reload or a hinted part may wait: the spec's three target durations.
BLOCK_TARGET_DURATIONS = 3
# _HLS_msn further ahead than this past the playlist's last segment is a client error (the spec's rule).
MAX_MSN_AHEAD = 2


def _resolve(service: MediaService, slug: str, path: str) -> tuple[str, str | None, bool]:
    """(file name, "screen" or None, whether it is the low rendition's)."""
    match = _NAME.match(path)
    if match is None or (match.group(2) and match.group(3) in (MULTIVARIANT, "recording.mp4")):
        raise MediaError(404, "not_found", "no such media file")
    return match.group(3), match.group(1), match.group(2) is not None


async def live_file(
    service: MediaService,
    slug: str,
    path: str,
    query: Mapping[str, str] | None = None,
) -> Response:
    name, sub, low = _resolve(service, slug, path)
    source = "screen" if sub else "camera"
    directory = service.feed_dir(slug, source)
    feed = service.feed(slug, source)
    if name == MULTIVARIANT:
        return _multivariant(feed, directory, None if sub else service.subtitles)
    edge = feed.edge if feed is not None else None
    if low:
        directory = directory / LOW_DIRECTORY
        edge = feed.low.edge if feed is not None and feed.low is not None else None
    wait = BLOCK_TARGET_DURATIONS * service.segment_seconds
    if name == "index.m3u8":
        blocking = _blocking_position(query or {})
        skip = (query or {}).get("_HLS_skip") in ("YES", "v2")
        if edge is None or edge.playlist is None:
            return _playlist(directory / LIVE_PLAYLIST, NO_STORE if blocking else LIVE_PLAYLIST_CACHE)
        if blocking is None:
            return _bytes(edge.playlist_for(skip), PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)
        return await _blocking_reload(edge, *blocking, wait, skip)
    if name.endswith(".ts"):
        if edge is not None:
            body = edge.blobs.get(name)
            if body is None and (upcoming := edge.upcoming_part(name)) is not None:
                # The preload hint: held until the writer cuts it (or the segment closes without it).
                await edge.wait_for(*upcoming, wait)
                body = edge.blobs.get(name)
            if body is not None:
                return _bytes(body, TS_TYPE, IMMUTABLE_CACHE)
        if _PART.match(name):
            raise MediaError(404, "not_found", "no such part (parts are kept for the last few segments)")
        return _file(directory / name, TS_TYPE, IMMUTABLE_CACHE)
    raise MediaError(404, "not_found", "the recording is under /archive/ once the event ends")


def _blocking_position(query: Mapping[str, str]) -> tuple[int, int | None] | None:
    msn, part = query.get("_HLS_msn"), query.get("_HLS_part")
    if msn is None:
        if part is not None:
            raise MediaError(400, "bad_request", "_HLS_part needs _HLS_msn")
        return None
    if not msn.isdigit() or (part is not None and not part.isdigit()) or len(msn) > 9 or len(part or "") > 4:
        raise MediaError(400, "bad_request", "_HLS_msn and _HLS_part are non-negative integers")
    return int(msn), int(part) if part is not None else None


def _multivariant(feed: Feed | None, directory: Path, subtitles: tuple[str, str] | None) -> Response:
    """The renditions by bandwidth (hls.js and native players switch between them); measured, not cached long."""
    low = feed.low if feed is not None else None
    found = variants(
        feed.edge if feed is not None else None, low, (directory / LOW_DIRECTORY / LIVE_PLAYLIST).is_file()
    )
    # The subtitles rendition (WebVTT live captions): its `#EXT-X-MEDIA:TYPE=SUBTITLES` line, and the
    # `SUBTITLES="subs"` attribute on every variant.
    media, group = ((subtitles[0],), subtitles[1]) if subtitles is not None else ((), "")
    body = render_multivariant(found, media=media, group=group)
    return _bytes(body.encode(), PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)


async def _blocking_reload(
    edge: LiveEdge, sequence: int, part: int | None, wait: float, skip: bool = False
) -> Response:
    if sequence > edge.next_sequence + MAX_MSN_AHEAD:
        raise MediaError(400, "bad_request", "_HLS_msn is too far beyond the live playlist")
    if not await edge.wait_for(sequence, part, wait):
        if edge.ended and edge.playlist is not None:
            return _bytes(edge.playlist, PLAYLIST_TYPE, NO_STORE)  # with ENDLIST: players stop asking
        raise MediaError(503, "not_yet", "that part did not arrive in time; reload the playlist")
    assert edge.playlist is not None
    return _bytes(edge.playlist_for(skip), PLAYLIST_TYPE, BLOCKING_PLAYLIST_CACHE)


def archive_file(service: MediaService, slug: str, path: str) -> Response:
    name, sub, low = _resolve(service, slug, path)
    directory = service.feed_dir(slug, "screen" if sub else "camera")
    if low or name == MULTIVARIANT:
        raise MediaError(404, "not_found", "the archive keeps the full-quality rendition only")
    if not (directory / ARCHIVE_PLAYLIST).is_file():
        raise MediaError(404, "not_archived", "this event has no archive (yet)")
    if name == "index.m3u8":
        return _playlist(directory / ARCHIVE_PLAYLIST, ARCHIVE_PLAYLIST_CACHE)
    if _PART.match(name):
        raise MediaError(404, "not_found", "the archive has whole segments only")
    if name.endswith(".ts"):
        return _file(directory / name, TS_TYPE, IMMUTABLE_CACHE)
    return _file(directory / RECORDING, "video/mp4", IMMUTABLE_CACHE)


def _bytes(body: bytes, media_type: str, cache: str) -> Response:
    return Response(body, media_type=media_type, headers={"Cache-Control": cache})


def _playlist(path: Path, cache: str) -> Response:
    """Read the playlist in one go: the writer replaces it every part, and a FileResponse that
    stat()s one version and streams the next sends a body longer than its Content-Length."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise MediaError(404, "not_found", "no such media file") from None
    return _bytes(body, PLAYLIST_TYPE, cache)


def _file(path: Path, media_type: str, cache: str) -> Response:
    if not path.is_file():
        raise MediaError(404, "not_found", "no such media file")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})
