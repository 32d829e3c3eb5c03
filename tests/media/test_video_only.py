"""A screen share without sound: its segments carry video only, so players do not wait for audio forever."""

from __future__ import annotations

import pytest

from server.media.hls import LIVE_PLAYLIST

from .conftest import MediaServer, ffmpeg_errors, ffprobe_streams, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher, _only

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


class VideoOnlyPublisher(AiortcPublisher):
    async def start(self):  # type: ignore[no-untyped-def]
        import httpx
        from aiortc import RTCSessionDescription

        video = self.pc.addTransceiver(self.video_track, direction="sendonly")
        video.setCodecPreferences(_only("video", "H264"))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            response = await http.post(
                f"/whip/{self.slug}",
                params={"source": self.source},
                content=self.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"},
            )
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response


async def test_a_silent_screen_share_makes_video_only_segments(media_server: MediaServer) -> None:
    pub = VideoOnlyPublisher(media_server.url, "ev3", publish_token("ev3"), source="screen")
    try:
        assert (await pub.start()).status_code == 201
        live = media_server.media_dir / "ev3" / "screen" / LIVE_PLAYLIST
        await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 2, what="screen segments")
        first = next(line for line in live.read_text().splitlines() if line.endswith(".ts"))
        segment = media_server.media_dir / "ev3" / "screen" / first
        assert [s["codec_type"] for s in ffprobe_streams(segment)] == ["video"]
        assert ffmpeg_errors(segment) == ""
    finally:
        await pub.close()
