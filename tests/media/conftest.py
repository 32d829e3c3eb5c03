"""A tiny app around media_routes with a fake `authorize`, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from server.media.fastpath import LiveFastPath
from server.media.hls import Segment
from server.media.rawhttp import LiveHttpProtocol
from server.media.routes import media_routes
from server.media.service import MediaService
from server.media.stage import Identity

EVENTS = ("ev1", "ev2", "ev3", "ev4")
# How long a media test waits for a condition (ICE + DTLS + a few segments) before failing.
MEDIA_WAIT_SECONDS = 20.0


def publish_token(slug: str) -> str:
    return f"pub-{slug}"


def watch_token(slug: str) -> str:
    return f"staff-{slug}"


def expert_token(slug: str, name: str) -> str:
    """A publish token that names its expert: each is a member of the stage of their own."""
    return f"pub-{slug}-{name}"


async def fake_authorize(request: Request, slug: str, mode: str) -> Identity | None:
    if slug not in EVENTS:
        raise HTTPException(404, detail="no such event")
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise HTTPException(401, detail="bearer token required", headers={"WWW-Authenticate": "Bearer"})
    token = header[7:]
    if mode == "publish" and token.startswith(f"guest-{slug}-"):  # a viewer: the stage decides (grants)
        participant = int(token.removeprefix(f"guest-{slug}-"))
        return Identity(key=f"guest{participant}", kind="guest", name="Li Wei", participant_id=participant)
    if mode == "publish" and token.startswith(publish_token(slug) + "-"):
        name = token.removeprefix(publish_token(slug) + "-")
        source = request.query_params.get("source", "camera")
        return Identity(key=f"{name}:{source}", kind="screen" if source == "screen" else "expert", name=name)
    allowed = {publish_token(slug)} if mode == "publish" else {publish_token(slug), watch_token(slug)}
    if token not in allowed:
        raise HTTPException(403, detail="this token may not do that")
    return None


@dataclass
class MediaServer:
    url: str
    service: MediaService
    media_dir: Path
    states: list[tuple[str, str]] = field(default_factory=list)
    segments: list[tuple[str, Segment]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # path?query of every HTTP request the app got
    answered: list[tuple[str, float]] = field(default_factory=list)  # (path?query, loop time its answer began)
    raw_answered: list[tuple[str, float]] = field(default_factory=list)  # the same, by the raw HTTP path
    arrived: list[tuple[str, float]] = field(default_factory=list)  # (path?query, loop time its head was complete)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=MEDIA_WAIT_SECONDS)


async def wait_for(predicate, within: float = MEDIA_WAIT_SECONDS, interval: float = 0.05, what: str = ""):
    """Poll `predicate` (sync or async) until truthy; fail with `what` after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or predicate}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def run_media_server(
    media_dir: Path,
    segment_seconds: float = 1.0,
    fast_path: bool = True,
    raw: bool = False,
    low_rendition: bool = False,
) -> AsyncIterator[MediaServer]:
    """`fast_path`: live media from memory before the router (server/media/fastpath.py); `raw`: and below ASGI
    too, as `make run` serves (server/media/rawhttp.py; `requests` and `answered` then list only what reaches
    the ASGI side, `raw_answered` what the protocol answered itself); `low_rendition`: the 360p rendition too
    (server/media/rendition.py)."""
    holder: dict[str, MediaServer] = {}

    def on_state(slug: str, state: str) -> None:
        holder["server"].states.append((slug, state))

    service = MediaService(
        media_dir,
        segment_seconds=segment_seconds,
        on_state=on_state,
        on_segment=lambda slug, seg: holder["server"].segments.append((slug, seg)),
        low_rendition=low_rendition,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    async def publisher_page(request: Request) -> HTMLResponse:
        # Test-only page so Chromium runs getUserMedia in a secure (loopback) origin.
        return HTMLResponse("<!doctype html><title>publisher</title>")

    routes = [*media_routes(service, fake_authorize), Route("/test-page", publisher_page)]
    app = Starlette(routes=routes, lifespan=lifespan)
    served = LiveFastPath(app, service) if fast_path else app

    async def recorded(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or "server" not in holder:
            await served(scope, receive, send)
            return
        query = scope["query_string"].decode()
        target = scope["path"] + (f"?{query}" if query else "")
        holder["server"].requests.append(target)
        holder["server"].arrived.append((target, asyncio.get_running_loop().time()))

        async def timed(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                holder["server"].answered.append((target, asyncio.get_running_loop().time()))
            await send(message)

        await served(scope, receive, timed)

    options: dict[str, object] = {}
    if raw:

        class Recorded(LiveHttpProtocol):
            def on_headers_complete(self) -> None:
                holder["server"].arrived.append((self.url.decode(), self.loop.time()))
                super().on_headers_complete()

            def _send(self, reply, answer):  # type: ignore[no-untyped-def]
                holder["server"].raw_answered.append((self.url.decode(), self.loop.time()))
                super()._send(reply, answer)

        options["http"] = Recorded
        recorded = LiveFastPath(recorded, service)  # type: ignore[assignment]  # where the protocol finds the service
    config = uvicorn.Config(
        recorded, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws="none", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), within=10, what="uvicorn start")
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    holder["server"] = MediaServer(f"http://127.0.0.1:{port}", service, media_dir)
    try:
        yield holder["server"]
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[MediaServer]:
    async with run_media_server(tmp_path / "media") as server:
        yield server


def ffmpeg_errors(path: Path) -> str:
    """Full decode with ffmpeg; returns what it reported at level error (empty = clean)."""
    result = subprocess.run(
        # Decode every frame; passthrough timing so that the null muxer does not round two
        # frames 20 ms apart onto one 1/fps tick and call that an error.
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stderr.strip() + ("" if result.returncode == 0 else f" (exit {result.returncode})")


def ffprobe_streams(path: Path) -> list[dict]:
    import json

    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stderr.strip() == "", result.stderr
    return json.loads(result.stdout)["streams"]


requires_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian package ffmpeg")
