"""WHEP for staff: every viewer gets the publisher's packets, no per-viewer encode."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import pytest

from .conftest import MediaServer, publish_token, run_media_server, wait_for, watch_token
from .publishers import FPS, AiortcPublisher, AiortcViewer, BeepAudio, Clock, FlashVideo, RtpViewer

pytestmark = [pytest.mark.slow, pytest.mark.media]

VIEWERS = 2
# Staff watch over WHEP to answer questions live: glass-to-glass (capture → decoded at the
# viewer, here through one aiortc encode and one decode on a shared 2-core machine).
MAX_WHEP_LATENCY_SECONDS = 0.5
FLASHES = 4
MARKS = 4
# As for the recording (tests/media/test_av_sync.py): well inside the ±45 ms viewers notice.
MAX_AV_OFFSET_SECONDS = 0.030
# Simulated loss at the viewer: one video packet in this many (the test pattern is ≈ 2 packets a frame).
LOSS_EVERY = 7


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
        assert all(v.dropped == 0 for v in feed.viewers)

        async with media_server.client() as http:
            gone = await http.delete(viewers[0].location, headers={"Authorization": f"Bearer {watch_token('ev1')}"})
            assert gone.status_code == 200
            again = await http.delete(viewers[0].location, headers={"Authorization": f"Bearer {watch_token('ev1')}"})
            assert again.status_code == 200  # DELETE is idempotent: the session has ended either way
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


def flash_onsets(frames: list[tuple[int, object]]) -> list[int]:
    """RTP timestamps of the video frames where a flash starts."""
    onsets, bright = [], False
    for timestamp, frame in frames:
        luma = bytes(frame.planes[0])[::97]  # type: ignore[attr-defined]
        now_bright = sum(luma) / len(luma) > 128
        if now_bright and not bright:
            onsets.append(timestamp)
        bright = now_bright
    return onsets


def beep_onsets(frames: list[tuple[int, object]]) -> list[int]:
    """RTP timestamps (48 kHz) of the audio samples where a beep starts."""
    onsets, loud = [], False
    for timestamp, frame in frames:
        samples = memoryview(bytes(frame.planes[0])).cast("h")[::2]  # type: ignore[attr-defined]  # left, s16
        peaks = [i for i, v in enumerate(samples) if abs(v) > 6000]
        if peaks and not loud:
            onsets.append(timestamp + peaks[0])
        loud = bool(peaks) or (loud and any(abs(v) > 600 for v in samples))
    return onsets


def timestamp_steps(frames: list[tuple[int, object]]) -> set[int]:
    return {(b[0] - a[0]) % 2**32 for a, b in itertools.pairwise(frames)}


async def test_whep_sender_reports_keep_audio_and_video_in_sync(media_server: MediaServer) -> None:
    # What a browser needs from the forwarded stream: every frame after the first keyframe,
    # decodable, and sender reports that put a flash and a beep captured together at the
    # same instant (Chromium aligns audio and video with them). aiortc's own reports pair the
    # RTP timestamp with the send time, which put audio 47 ms behind video here: the audio
    # jitter buffer holds frames 80 ms, the video one 33 ms.
    clock = Clock()
    pub = AiortcPublisher(media_server.url, "ev3", publish_token("ev3"))
    pub.video_track, pub.audio_track = FlashVideo(clock), BeepAudio(clock)
    viewer = RtpViewer(media_server.url, "ev3", watch_token("ev3"))
    try:
        assert (await pub.start()).status_code == 201
        # Both tracks anchored on the recording clock first (a viewer's setup must not delay that).
        await wait_for(lambda: len(media_server.segments) >= 1, what="a segment of publisher media")
        assert (await viewer.start()).status_code == 201
        await wait_for(
            lambda: len(flash_onsets(viewer.frames["video"])) >= MARKS and len(viewer.reports) == 2,
            what="flashes and sender reports at the viewer",
        )
    finally:
        await viewer.close()
        await pub.close()
    assert viewer.decode_errors == []
    video, audio = viewer.frames["video"], viewer.frames["audio"]
    assert timestamp_steps(video) <= {2999, 3000, 3001}, sorted(timestamp_steps(video))  # 30 fps, none missing
    assert timestamp_steps(audio) <= {959, 960, 961}, sorted(timestamp_steps(audio))  # 20 ms Opus, none missing
    flashes = [viewer.ntp_seconds("video", t) for t in flash_onsets(video)]
    beeps = [viewer.ntp_seconds("audio", t) for t in beep_onsets(audio)]
    offsets = [b - f for f in flashes for b in beeps if f is not None and b is not None and abs(b - f) < 0.5]
    print(f"WHEP A/V offsets by sender reports (audio − video, s): {[round(o, 3) for o in offsets]}")
    assert len(offsets) >= MARKS - 1, (flashes, beeps)
    assert max(abs(o) for o in offsets) <= MAX_AV_OFFSET_SECONDS, offsets


async def test_whep_lost_packets_are_retransmitted(media_server: MediaServer) -> None:
    pub = AiortcPublisher(media_server.url, "ev4", publish_token("ev4"))
    viewer = RtpViewer(media_server.url, "ev4", watch_token("ev4"), drop_every=LOSS_EVERY)
    try:
        assert (await pub.start()).status_code == 201
        feed = media_server.service.feed("ev4")
        assert feed is not None
        await wait_for(lambda: feed.video_codec == "H264", what="publisher media")
        assert (await viewer.start()).status_code == 201
        await wait_for(lambda: len(viewer.frames["video"]) >= 60, what="two seconds of video at the viewer")
    finally:
        await viewer.close()
        await pub.close()
    print(f"dropped {sorted(viewer.dropped)}, retransmitted {viewer.retransmitted}")
    assert len(viewer.dropped) >= 3
    assert viewer.retransmitted >= len(viewer.dropped) - 1  # the last loss may be too recent
    # On a loaded machine a retransmission can reach the viewer after its jitter buffer gave the frame up:
    # that costs the frames up to the next keyframe (one a second), never the stream. Missing or corrupt
    # retransmissions would cost nearly every frame (one packet in seven is dropped throughout).
    assert len(viewer.decode_errors) <= FPS, viewer.decode_errors[:3]
    assert timestamp_steps(viewer.frames["video"]) <= {2999, 3000, 3001}


# The longest segments: a keyframe loop tick (one per segment) is then 2 s apart, and a PLI sent just
# after one can only be answered by the keyframe it asks for.
PLI_TEST_SEGMENT_SECONDS = 2.0
# From a viewer's PLI to the keyframe it asked for: server → publisher PLI → encoder → back (or the
# VP8 fallback's x264 alone). Well under the 2 s it would wait for the next segment's keyframe.
MAX_PICTURE_LOSS_RECOVERY_SECONDS = 0.6


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_whep_viewer_picture_loss_brings_a_keyframe_at_once(tmp_path: Path, codec: str) -> None:
    async with run_media_server(tmp_path / "media", segment_seconds=PLI_TEST_SEGMENT_SECONDS) as server:
        pub = AiortcPublisher(server.url, "ev1", publish_token("ev1"), video_codec=codec)
        viewer = RtpViewer(server.url, "ev1", watch_token("ev1"))
        try:
            assert (await pub.start()).status_code == 201
            feed = server.service.feed("ev1")
            assert feed is not None
            await wait_for(lambda: feed.video_codec == codec and feed.frames_in > 30, what="publisher media")
            assert (await viewer.start()).status_code == 201
            await wait_for(lambda: len(viewer.keyframes) >= 1, what="the keyframe a joining viewer starts at")
            # Right after a segment's keyframe: the next one is due 2 s later.
            await wait_for(lambda: len(viewer.keyframes) >= 2, 5, interval=0.005, what="a segment's keyframe")
            seen, asked = len(viewer.keyframes), time.monotonic()
            for _ in range(5):  # a burst, as when one loss reaches a browser's several retries
                await viewer.picture_lost()
            await wait_for(lambda: len(viewer.keyframes) > seen, 5, what="a keyframe after the PLI")
            recovery = viewer.keyframes[seen] - asked
            passed_on = feed.keyframes_for_viewers
        finally:
            await viewer.close()
            await pub.close()
    print(f"{codec}: PLI → keyframe at the viewer in {recovery * 1000:.0f} ms")
    assert recovery <= MAX_PICTURE_LOSS_RECOVERY_SECONDS
    assert passed_on == 1, "a burst of requests costs the publisher one keyframe"
    assert viewer.decode_errors == []
