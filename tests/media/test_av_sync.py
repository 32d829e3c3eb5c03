"""Audio and video stay in sync: a flash and a beep captured at the same instant are measured
in the archived recording."""

from __future__ import annotations

import statistics

import av
import pytest

from .conftest import MediaServer, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher, BeepAudio, Clock, FlashVideo

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]

# What "in sync" means here: well inside the ±45 ms at which viewers start to notice.
MAX_OFFSET_SECONDS = 0.030
MARKS = 5
PAIRING_WINDOW_SECONDS = 0.5
# Measured: +4 ms (audio after video), from Opus's 312-sample encoder delay (6.5 ms) less
# aiortc's audio/video buffering difference as compensated in server/media/feed.py.
MAX_SPREAD_SECONDS = 0.005


def onsets(path: str) -> tuple[list[float], list[float]]:
    flashes: list[float] = []
    beeps: list[float] = []
    with av.open(path) as container:
        bright = False
        for frame in container.decode(video=0):
            luma = frame.planes[0]
            level = statistics.fmean(bytes(luma)[::97])
            if level > 128 and not bright:
                flashes.append(float(frame.pts * frame.time_base))
            bright = level > 128
    with av.open(path) as container:
        loud = False
        for frame in container.decode(audio=0):
            # Left channel of planar float; the plane buffer is padded past frame.samples.
            samples = memoryview(bytes(frame.planes[0])).cast("f")[: frame.samples]
            for i, value in enumerate(samples):
                now_loud = abs(value) > 0.2
                if now_loud and not loud:
                    beeps.append(float(frame.pts * frame.time_base) + i / frame.sample_rate)
                    loud = True
                    break
            else:
                if loud and all(abs(v) < 0.02 for v in samples):
                    loud = False
    return flashes, beeps


async def test_flash_and_beep_stay_aligned(media_server: MediaServer) -> None:
    clock = Clock()
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    pub.video_track, pub.audio_track = FlashVideo(clock), BeepAudio(clock)
    try:
        assert (await pub.start()).status_code == 201
        await wait_for(lambda: len(media_server.segments) >= MARKS + 1, what="enough marks")
    finally:
        await pub.close()
    await media_server.service.end_stream("ev1")
    flashes, beeps = onsets(str(media_server.media_dir / "ev1" / "recording.mp4"))
    offsets = [b - f for f in flashes for b in beeps if abs(b - f) < PAIRING_WINDOW_SECONDS]
    print(f"A/V offsets (audio − video, s): {[round(o, 3) for o in offsets]}")
    assert len(offsets) >= MARKS - 1, (flashes, beeps)
    assert max(abs(o) for o in offsets) <= MAX_OFFSET_SECONDS, offsets
    # Constant along the recording: no drift (a dropped AAC frame per cut used to add 2.7 ms/s).
    assert max(offsets) - min(offsets) <= MAX_SPREAD_SECONDS, offsets
