"""WHIP ingest from an aiortc publisher, H.264 forwarded into HLS without decoding."""

from __future__ import annotations

import pytest

from server.media.hls import ARCHIVE_PLAYLIST, LIVE_PLAYLIST

from .conftest import MediaServer, ffmpeg_errors, ffprobe_streams, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


async def test_h264_publisher_is_forwarded_into_live_hls_then_archived(media_server: MediaServer) -> None:
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    response = await pub.start()
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/sdp")
    assert response.headers["location"].startswith("/whip/ev1/")
    assert "a=setup:passive" in response.text  # answers passive (what WHIP clients expect)
    # The answer prefers H.264 so that it can be forwarded without decoding.
    try:
        live = media_server.media_dir / "ev1" / LIVE_PLAYLIST
        await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 3, what="3 live segments")
        assert media_server.service.state("ev1") == "live"
        feed = media_server.service.feed("ev1")
        assert feed is not None and feed.video_codec == "H264"
        assert feed._vp8 is None  # nothing decoded or re-encoded the video

        async with media_server.client() as http:
            playlist = await http.get("/live/ev1/index.m3u8")
            assert playlist.status_code == 200
            assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
            assert playlist.headers["cache-control"] == "public, max-age=0, s-maxage=1"
            first = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
            segment = await http.get(f"/live/ev1/{first}")
            assert segment.status_code == 200
            assert segment.headers["content-type"] == "video/mp2t"
            assert "immutable" in segment.headers["cache-control"]
            # Segments are 1–2 s long (segment_seconds=1, a keyframe requested every second).
            durations = [
                float(x.split(":")[1].rstrip(",")) for x in playlist.text.splitlines() if x.startswith("#EXTINF")
            ]
            assert all(0.8 <= d <= 2.1 for d in durations), durations
            assert (await http.get("/archive/ev1/index.m3u8")).status_code == 404  # not ended yet

        deleted = await pub.delete()
        assert deleted.status_code == 200
        await wait_for(lambda: media_server.service.state("ev1") == "idle", what="idle after DELETE")
    finally:
        await pub.close()

    await media_server.service.end_stream("ev1")
    assert media_server.service.state("ev1") == "ended"
    assert [s for _, s in media_server.states] == ["live", "idle", "ended"]
    archive = media_server.media_dir / "ev1" / ARCHIVE_PLAYLIST
    text = archive.read_text()
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-PLAYLIST-TYPE:VOD" in text
    streams = ffprobe_streams(archive)
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
    assert ffmpeg_errors(archive) == ""
    mp4 = media_server.media_dir / "ev1" / "recording.mp4"
    assert ffmpeg_errors(mp4) == ""
    head = mp4.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # faststart: moov first
    async with media_server.client() as http:
        listing = await http.get("/archive/ev1/index.m3u8")
        assert listing.status_code == 200 and "#EXT-X-ENDLIST" in listing.text
        recording = await http.get("/archive/ev1/recording.mp4")
        assert recording.status_code == 200 and recording.headers["content-type"] == "video/mp4"
