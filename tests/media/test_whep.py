"""WHEP for staff: every viewer gets the publisher's packets, no per-viewer encode."""

from __future__ import annotations

import statistics
import time

import pytest

from .conftest import MediaServer, publish_token, wait_for, watch_token
from .publishers import FPS, AiortcPublisher, AiortcViewer, BeepAudio, Clock, FlashVideo

pytestmark = [pytest.mark.slow, pytest.mark.media]

VIEWERS = 2
# Staff watch over WHEP to answer questions live: glass-to-glass (capture → decoded at the
# viewer, here through one aiortc encode and one decode on a shared 2-core machine).
MAX_WHEP_LATENCY_SECONDS = 0.5
FLASHES = 4


class FlashTimes(FlashVideo):
    """FlashVideo that notes when each flash was captured."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.flashes: list[float] = []

    async def recv(self):  # type: ignore[no-untyped-def]
        frame = await super().recv()
        if (self.n - 1) % FPS == 0 and self.n > FPS:
            self.flashes.append(time.monotonic())
        return frame


class FlashViewer(AiortcViewer):
    def __init__(self, *args: str) -> None:
        super().__init__(*args)
        self.flashes: list[float] = []
        self._bright = False

    def on_frame(self, kind: str, frame: object) -> None:
        if kind != "video":
            return
        luma = bytes(frame.planes[0])[::97]  # type: ignore[attr-defined]
        bright = sum(luma) / len(luma) > 128
        if bright and not self._bright:
            self.flashes.append(time.monotonic())
        self._bright = bright


async def test_whep_viewers_receive_forwarded_packets(media_server: MediaServer) -> None:
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    viewers = [AiortcViewer(media_server.url, "ev1", watch_token("ev1")) for _ in range(VIEWERS)]
    try:
        assert (await pub.start()).status_code == 201
        feed = media_server.service.feed("ev1")
        assert feed is not None
        await wait_for(lambda: feed.video_codec == "H264", what="publisher media")
        for viewer in viewers:
            response = await viewer.start()
            assert response.status_code == 201, response.text
            assert response.headers["location"].startswith("/whep/ev1/")
        assert len(feed.viewers) == VIEWERS
        await wait_for(
            lambda: all(v.frames["video"] >= 30 and v.frames["audio"] >= 50 for v in viewers),
            what="a second of decoded audio and video at every viewer",
        )
        # Forwarding, not transcoding: the writer never created an encoder for video.
        assert feed._vp8 is None
        assert all(v.video.dropped == 0 for v in feed.viewers)

        async with media_server.client() as http:
            gone = await http.delete(viewers[0].location, headers={"Authorization": f"Bearer {watch_token('ev1')}"})
            assert gone.status_code == 200
            again = await http.delete(viewers[0].location, headers={"Authorization": f"Bearer {watch_token('ev1')}"})
            assert again.status_code == 404 and again.json()["error"]["code"] == "unknown_session"
        assert len(feed.viewers) == VIEWERS - 1
    finally:
        for viewer in viewers:
            await viewer.close()
        await pub.close()


async def test_whep_refuses_viewers_without_staff_token(media_server: MediaServer) -> None:
    viewer = AiortcViewer(media_server.url, "ev1", "viewer-token")
    try:
        response = await viewer.start()
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    finally:
        await viewer.close()


async def test_whep_glass_to_glass_latency_is_under_half_a_second(media_server: MediaServer) -> None:
    clock = Clock()
    video = FlashTimes(clock)
    pub = AiortcPublisher(media_server.url, "ev2", publish_token("ev2"))
    pub.video_track, pub.audio_track = video, BeepAudio(clock)
    viewer = FlashViewer(media_server.url, "ev2", watch_token("ev2"))
    try:
        assert (await pub.start()).status_code == 201
        feed = media_server.service.feed("ev2")
        assert feed is not None
        await wait_for(lambda: feed.video_codec == "H264", what="publisher media")
        assert (await viewer.start()).status_code == 201
        await wait_for(lambda: len(viewer.flashes) >= FLASHES + 1, what="flashes at the viewer")
    finally:
        await viewer.close()
        await pub.close()
    delays = []
    for seen in viewer.flashes[1:]:  # the first may predate the viewer's first keyframe
        sent = max((t for t in video.flashes if t <= seen), default=None)
        if sent is not None:
            delays.append(seen - sent)
    print(f"WHEP capture → decoded at viewer (s): {[round(d, 3) for d in delays]}")
    assert len(delays) >= FLASHES - 1
    assert statistics.median(delays) < MAX_WHEP_LATENCY_SECONDS, delays
