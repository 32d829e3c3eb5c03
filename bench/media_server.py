"""Media server process for bench/media_ingest.py: our pipeline or the naive one.

    python -m bench.media_server ours|naive MEDIA_DIR

Prints {"port": N} on its first stdout line, then (ours) one JSON line per listed segment.
The naive pipeline is what the design rules out: aiortc decodes every track, MediaRecorder
re-encodes it into HLS (x264 + AAC, on the event loop), and every WHEP viewer gets a
MediaRelay subscription that aiortc re-encodes per viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BENCH_SEGMENT_SECONDS = 1.0


def ours(media_dir: Path) -> Starlette:
    from server.media.routes import media_routes
    from server.media.service import MediaService

    def on_segment(slug: str, segment: object) -> None:
        seg = segment.__dict__
        print(json.dumps({"slug": slug, **{k: seg[k] for k in ("sequence", "duration", "first_arrival", "listed_at")}}))
        sys.stdout.flush()

    service = MediaService(media_dir, segment_seconds=BENCH_SEGMENT_SECONDS, on_segment=on_segment)

    async def allow(request: Request, slug: str, mode: str) -> None:
        return None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    return Starlette(routes=media_routes(service, allow), lifespan=lifespan)


def naive(media_dir: Path) -> Starlette:
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRecorder, MediaRelay

    relay = MediaRelay()
    sources: dict[str, dict[str, object]] = {}
    peers: set[RTCPeerConnection] = set()
    recorders: list[MediaRecorder] = []

    async def whip(request: Request) -> Response:
        slug = request.path_params["slug"]
        pc = RTCPeerConnection()
        peers.add(pc)
        directory = media_dir / slug
        directory.mkdir(parents=True, exist_ok=True)
        recorder = MediaRecorder(
            str(directory / "index.m3u8"), format="hls", options={"hls_time": str(int(BENCH_SEGMENT_SECONDS))}
        )
        recorders.append(recorder)
        tracks: dict[str, object] = {}
        sources[slug] = tracks

        @pc.on("track")
        def on_track(track: object) -> None:
            tracks[track.kind] = track  # type: ignore[attr-defined]
            recorder.addTrack(relay.subscribe(track))  # type: ignore[arg-type]

        await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await recorder.start()
        return Response(pc.localDescription.sdp, status_code=201, media_type="application/sdp",
                        headers={"Location": f"/whip/{slug}/x"})  # fmt: skip

    async def whep(request: Request) -> Response:
        tracks = sources[request.path_params["slug"]]
        pc = RTCPeerConnection()
        peers.add(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind in tracks:
                transceiver.sender.replaceTrack(relay.subscribe(tracks[transceiver.kind]))  # type: ignore[arg-type]
                transceiver.direction = "sendonly"
        await pc.setLocalDescription(await pc.createAnswer())
        return Response(pc.localDescription.sdp, status_code=201, media_type="application/sdp",
                        headers={"Location": f"/whep/x/{id(pc)}"})  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for recorder in recorders:
            await recorder.stop()
        await asyncio.gather(*(pc.close() for pc in peers))

    return Starlette(
        routes=[Route("/whip/{slug}", whip, methods=["POST"]), Route("/whep/{slug}", whep, methods=["POST"])],
        lifespan=lifespan,
    )


async def main(kind: str, media_dir: Path) -> None:
    app = ours(media_dir) if kind == "ours" else naive(media_dir)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="none"))
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
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
