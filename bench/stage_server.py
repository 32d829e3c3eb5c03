"""Media server process for bench/stage.py: the media service with a stage, and a control route.

    python -m bench.stage_server MEDIA_DIR [X264_PRESET [on|off]]

The last argument is the 360p rendition (`LOW_RENDITION`): on, as the product serves by default, unless off.

Prints {"port": N} on its first stdout line. Publishers authenticate as `Bearer bench-NAME` (each its own
stage member). `POST /bench/{slug}/on_air/{member}?on=1|0` changes the stage and answers once the
programme has switched (the compositor took it, or the member is forwarded): {"switch_seconds": s}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.media.routes import media_routes
from server.media.service import MediaService
from server.media.stage import Identity
from server.settings import Settings

SEGMENT_SECONDS = 1.0
SWITCH_TIMEOUT_SECONDS = 10.0


def app(media_dir: Path, preset: str | None, low_rendition: bool) -> Starlette:
    service = MediaService(media_dir, segment_seconds=SEGMENT_SECONDS, x264_preset=preset, low_rendition=low_rendition)

    async def allow(request: Request, slug: str, mode: str) -> Identity | None:
        name = request.headers.get("authorization", "").removeprefix("Bearer ")
        return Identity(key=name, kind="expert", name=name) if mode == "publish" else None

    async def on_air(request: Request) -> JSONResponse:
        slug, member = request.path_params["slug"], request.path_params["member"]
        on = request.query_params.get("on", "1") == "1"
        started = time.monotonic()
        await service.set_on_air(slug, member, on)
        feed = service.feed(slug)
        assert feed is not None

        def switched() -> bool:
            compositor = service.compositor(slug)
            plan = service.stage(slug).plan()
            if plan.mode == "compose":
                return compositor is not None and feed.publisher == compositor.session_id
            return feed.publisher == plan.camera

        while not switched() and time.monotonic() - started < SWITCH_TIMEOUT_SECONDS:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return JSONResponse({"switch_seconds": time.monotonic() - started, "switched": switched()})

    async def end(request: Request) -> JSONResponse:
        await service.end_stream(request.path_params["slug"])
        return JSONResponse({})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    routes = [
        *media_routes(service, allow),
        Route("/bench/{slug}/on_air/{member}", on_air, methods=["POST"]),
        Route("/bench/{slug}/end", end, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def main(media_dir: Path, preset: str | None, low_rendition: bool) -> None:
    # As the app's lifespan does (server/app.py): threads wait at most 1 ms for the GIL.
    sys.setswitchinterval(0.001)
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("server.media").setLevel(logging.INFO)
    config = uvicorn.Config(app(media_dir, preset, low_rendition), host="127.0.0.1", port=0, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn has no "listening" event
        await asyncio.sleep(0.05)
    print(json.dumps({"port": server.servers[0].sockets[0].getsockname()[1]}))
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.should_exit = True
    await task


if __name__ == "__main__":
    low = Settings().low_rendition if len(sys.argv) < 4 else sys.argv[3] == "on"
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None, low))
