"""Serving the HLS files: fixed names only (no path traversal), right types and caching."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import FileResponse, Response

from .errors import MediaError
from .hls import ARCHIVE_PLAYLIST, LIVE_PLAYLIST, RECORDING

if TYPE_CHECKING:
    from .service import MediaService

# "index.m3u8", "000042.ts", "recording.mp4", optionally under "screen/". Nothing else maps
# to a file, so "..", absolute paths and encoded separators never reach the filesystem.
_NAME = re.compile(r"^(?:(screen)/)?(index\.m3u8|\d{6}\.ts|recording\.mp4)$")

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
# A live playlist changes every segment: caches may keep it for at most half a segment.
LIVE_PLAYLIST_CACHE = "no-cache, max-age=0"
# Segments and finished archives never change once written.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
ARCHIVE_PLAYLIST_CACHE = "public, max-age=3600"


def _resolve(service: MediaService, slug: str, path: str) -> tuple[str, str | None]:
    match = _NAME.match(path)
    if match is None:
        raise MediaError(404, "not_found", "no such media file")
    return match.group(2), match.group(1)


def live_file(service: MediaService, slug: str, path: str) -> Response:
    name, sub = _resolve(service, slug, path)
    directory = service.feed_dir(slug, "screen" if sub else "camera")
    if name == "index.m3u8":
        return _playlist(directory / LIVE_PLAYLIST, LIVE_PLAYLIST_CACHE)
    if name.endswith(".ts"):
        return _file(directory / name, "video/mp2t", IMMUTABLE_CACHE)
    raise MediaError(404, "not_found", "the recording is under /archive/ once the event ends")


def archive_file(service: MediaService, slug: str, path: str) -> Response:
    name, sub = _resolve(service, slug, path)
    directory = service.feed_dir(slug, "screen" if sub else "camera")
    if not (directory / ARCHIVE_PLAYLIST).is_file():
        raise MediaError(404, "not_archived", "this event has no archive (yet)")
    if name == "index.m3u8":
        return _playlist(directory / ARCHIVE_PLAYLIST, ARCHIVE_PLAYLIST_CACHE)
    if name.endswith(".ts"):
        return _file(directory / name, "video/mp2t", IMMUTABLE_CACHE)
    return _file(directory / RECORDING, "video/mp4", IMMUTABLE_CACHE)


def _playlist(path: Path, cache: str) -> Response:
    """Read the playlist in one go: the writer replaces it every segment, and a FileResponse that
    stat()s one version and streams the next sends a body longer than its Content-Length."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise MediaError(404, "not_found", "no such media file") from None
    return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": cache})


def _file(path: object, media_type: str, cache: str) -> Response:
    from pathlib import Path

    assert isinstance(path, Path)
    if not path.is_file():
        raise MediaError(404, "not_found", "no such media file")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})
