"""WHEP for staff: every viewer gets the publisher's packets, no per-viewer encode."""

from __future__ import annotations

import pytest

from .conftest import MediaServer, publish_token, wait_for, watch_token
from .publishers import AiortcPublisher, AiortcViewer

pytestmark = [pytest.mark.slow, pytest.mark.media]

VIEWERS = 2


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
