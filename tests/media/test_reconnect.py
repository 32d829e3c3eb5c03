"""One publisher per source (409), screen share as a second session, drop → reconnect continues
the same recording across a discontinuity."""

from __future__ import annotations

import pytest

from server.media.hls import SEGMENT_LOG

from .conftest import MediaServer, ffmpeg_errors, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


def listed(server: MediaServer, slug: str, sub: str = "") -> int:
    """Segments written so far (the log, not the live playlist: its window stops growing at 6)."""
    log = server.media_dir / slug / sub / SEGMENT_LOG
    return len(log.read_text().splitlines()) if log.is_file() else 0


async def test_drop_and_reconnect_continue_one_recording(media_server: MediaServer) -> None:
    first = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    second = duplicate = screen = None
    try:
        assert (await first.start()).status_code == 201
        await wait_for(lambda: listed(media_server, "ev1") >= 2, what="first session segments")

        duplicate = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
        refused = await duplicate.start()
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "already_publishing"

        screen = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"), source="screen")
        assert (await screen.start()).status_code == 201
        await wait_for(lambda: listed(media_server, "ev1", "screen") >= 1, what="screen segments")
        await screen.close()  # drops without DELETE

        await first.close()  # the camera drops too (no DELETE): RTCP BYE ends its tracks
        await wait_for(lambda: media_server.service.state("ev1") == "reconnecting", what="reconnecting")

        second = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
        assert (await second.start()).status_code == 201
        assert media_server.service.state("ev1") == "live"
        # Counted from the segment callbacks, not the live playlist: that is a window of 6, maybe full
        # already. The screen has stopped: only the camera adds segments now.
        before = len(media_server.segments)
        await wait_for(lambda: len(media_server.segments) >= before + 2, what="second session segments")
        await media_server.service.end_stream("ev1")  # the event ends while the publisher is live
    finally:
        for pub in (first, second, duplicate, screen):
            if pub is not None:
                await pub.close()

    states = [s for slug, s in media_server.states if slug == "ev1"]
    assert states == ["live", "reconnecting", "live", "ended"]
    archive = (media_server.media_dir / "ev1" / "index.m3u8").read_text()
    assert archive.count("#EXT-X-DISCONTINUITY\n") == 1  # one recording, one seam
    assert archive.rstrip().endswith("#EXT-X-ENDLIST")
    assert ffmpeg_errors(media_server.media_dir / "ev1" / "index.m3u8") == ""
    assert ffmpeg_errors(media_server.media_dir / "ev1" / "recording.mp4") == ""
    assert ffmpeg_errors(media_server.media_dir / "ev1" / "screen" / "recording.mp4") == ""


async def test_server_restart_mid_event_continues_the_recording(tmp_path) -> None:
    from .conftest import run_media_server

    media_dir = tmp_path / "media"
    async with run_media_server(media_dir) as server:
        pub = AiortcPublisher(server.url, "ev2", publish_token("ev2"))
        try:
            assert (await pub.start()).status_code == 201
            await wait_for(lambda: listed(server, "ev2") >= 2, what="first run segments")
        finally:
            await pub.close()
    first_run = sorted(p.name for p in (media_dir / "ev2").glob("*.ts"))

    async with run_media_server(media_dir) as server:  # a new process would see the same files
        pub = AiortcPublisher(server.url, "ev2", publish_token("ev2"))
        try:
            assert (await pub.start()).status_code == 201
            await wait_for(lambda: len(server.segments) >= 2, what="second run segments")
            await server.service.end_stream("ev2")
        finally:
            await pub.close()
        archive = (media_dir / "ev2" / "index.m3u8").read_text()
        for name in first_run:  # nothing of the first run was overwritten or lost
            assert name in archive
        assert server.segments[0][1].sequence == int(first_run[-1][:6]) + 1
        assert "#EXT-X-DISCONTINUITY" in archive
        assert ffmpeg_errors(media_dir / "ev2" / "index.m3u8") == ""
        assert ffmpeg_errors(media_dir / "ev2" / "recording.mp4") == ""

    async with run_media_server(media_dir) as server:  # after the end, the event stays ended
        late = AiortcPublisher(server.url, "ev2", publish_token("ev2"))
        try:
            refused = await late.start()
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "stream_ended"
        finally:
            await late.close()
