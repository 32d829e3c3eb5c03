"""A VP8-only publisher: decoded and encoded once (x264), keyframes at segment boundaries."""

from __future__ import annotations

import pytest

from server.media.hls import LIVE_PLAYLIST

from .conftest import MediaServer, ffmpeg_errors, ffprobe_streams, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


async def test_vp8_publisher_is_encoded_once_into_regular_segments(media_server: MediaServer) -> None:
    pub = AiortcPublisher(media_server.url, "ev3", publish_token("ev3"), video_codec="VP8")
    try:
        assert (await pub.start()).status_code == 201
        live = media_server.media_dir / "ev3" / LIVE_PLAYLIST
        await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 4, what="segments")
        feed = media_server.service.feed("ev3")
        assert feed is not None and feed.video_codec == "VP8" and feed._vp8 is not None
    finally:
        await pub.close()
    await media_server.service.end_stream("ev3")
    archive = media_server.media_dir / "ev3" / "index.m3u8"
    durations = [float(x[8:].rstrip(",")) for x in archive.read_text().splitlines() if x.startswith("#EXTINF:")]
    # Forced keyframes every segment_seconds: every full segment is 1 s (±1 frame).
    assert all(abs(d - 1.0) <= 0.05 for d in durations[:-1]), durations
    streams = ffprobe_streams(archive)
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
    assert ffmpeg_errors(archive) == ""
    assert ffmpeg_errors(media_server.media_dir / "ev3" / "recording.mp4") == ""
