"""Interop with GStreamer 1.22 webrtcbin (RSA certificate, offers actpass): we answer passive."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from server.media.hls import LIVE_PLAYLIST

from .conftest import MediaServer, ffmpeg_errors, publish_token, requires_ffmpeg

SYSTEM_PYTHON = "/usr/bin/python3"
PUBLISH_SECONDS = 3.0
SCRIPT = Path(__file__).with_name("gst_whip.py")
REPO = Path(__file__).resolve().parents[2]


def gstreamer_webrtc_available() -> bool:
    probe = "import gi; gi.require_version('GstWebRTC', '1.0'); from gi.repository import Gst; Gst.init(None);" + (
        "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
        "('webrtcbin', 'nicesrc', 'x264enc', 'opusenc', 'rtph264pay')) else 1)"
    )
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.media,
    requires_ffmpeg,
    pytest.mark.skipif(not gstreamer_webrtc_available(), reason="Debian GStreamer webrtcbin packages"),
]


async def test_gstreamer_webrtcbin_publishes_h264_into_hls(media_server: MediaServer) -> None:
    url = f"{media_server.url}/whip/ev2"
    proc = await asyncio.create_subprocess_exec(
        SYSTEM_PYTHON, str(SCRIPT), url, publish_token("ev2"), str(PUBLISH_SECONDS),
        cwd=REPO, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), PUBLISH_SECONDS + 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode(errors="replace")[-2000:]
    feed = media_server.service.feed("ev2")
    assert feed is not None and feed.video_codec == "H264"  # forwarded without decoding
    assert (media_server.media_dir / "ev2" / LIVE_PLAYLIST).read_text().count("#EXTINF") >= 2
    assert media_server.service.state("ev2") == "idle"  # it ended with DELETE
    await media_server.service.end_stream("ev2")
    assert ffmpeg_errors(media_server.media_dir / "ev2" / "index.m3u8") == ""
    assert ffmpeg_errors(media_server.media_dir / "ev2" / "recording.mp4") == ""
