"""Headless Chromium (Debian's) with fake capture devices publishes over WHIP."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.media.hls import LIVE_PLAYLIST

from .conftest import MediaServer, ffmpeg_errors, ffprobe_streams, publish_token, requires_ffmpeg, wait_for
from .publishers import FPS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.media,
    pytest.mark.browser,
    requires_ffmpeg,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian package chromium"),
]

CHROMIUM = "/usr/bin/chromium"
CAPTURE_SECONDS = 4

PUBLISH_JS = """
async ([whip, token]) => {
  const media = await navigator.mediaDevices.getUserMedia({
    video: {width: 640, height: 360, frameRate: 30}, audio: true});
  const pc = new RTCPeerConnection();
  for (const track of media.getTracks()) pc.addTransceiver(track, {direction: 'sendonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  const response = await fetch(whip, {method: 'POST', body: pc.localDescription.sdp,
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  const answer = await response.text();
  if (response.status !== 201) return {status: response.status, body: answer};
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  window.publisher = {pc, location: response.headers.get('Location')};
  return {status: 201, location: window.publisher.location};
}
"""


async def launch(pw: Any, *extra: str) -> Any:
    """Debian's Chromium, headless, with the flags every test here needs plus `extra`."""
    return await pw.chromium.launch(
        executable_path=shutil.which(CHROMIUM) or CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", *extra],
    )


def make_capture_files(directory: Path) -> tuple[Path, Path]:
    """Known content for Chromium's fake devices: a test pattern and a 1 kHz tone."""
    video, audio = directory / "capture.y4m", directory / "capture.wav"
    run = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    pattern = f"testsrc2=size=640x360:rate=30:duration={CAPTURE_SECONDS}"
    tone = f"sine=frequency=1000:sample_rate=48000:duration={CAPTURE_SECONDS}"
    subprocess.run([*run, "-f", "lavfi", "-i", pattern, "-pix_fmt", "yuv420p", str(video)], check=True, timeout=60)
    subprocess.run([*run, "-f", "lavfi", "-i", tone, "-ac", "2", str(audio)], check=True, timeout=60)
    return video, audio


async def test_chromium_fake_devices_publish(media_server: MediaServer, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    video, audio = make_capture_files(tmp_path)
    async with async_playwright() as pw:
        browser = await launch(
            pw,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            f"--use-file-for-fake-audio-capture={audio}",
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{media_server.url}/test-page")
            result = await page.evaluate(PUBLISH_JS, [f"{media_server.url}/whip/ev4", publish_token("ev4")])
            assert result["status"] == 201, result
            live = media_server.media_dir / "ev4" / LIVE_PLAYLIST
            await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 3, what="segments")
            feed = media_server.service.feed("ev4")
            assert feed is not None
            assert feed.video_codec == "H264"  # our answer preferred H.264: forwarded, not decoded
            assert feed._vp8 is None
            status = await page.evaluate(
                "async ([t]) => (await fetch(window.publisher.location, {method: 'DELETE',"
                " headers: {'Authorization': 'Bearer ' + t}})).status",
                [publish_token("ev4")],
            )
            assert status == 200
        finally:
            await browser.close()
    await media_server.service.end_stream("ev4")
    archive = (media_server.media_dir / "ev4" / "index.m3u8").read_text()
    durations = [float(x[8:].rstrip(",")) for x in archive.splitlines() if x.startswith("#EXTINF:")]
    assert all(0.8 <= d <= 2.1 for d in durations[:-1]), durations  # regular, even when re-encoded
    streams = ffprobe_streams(media_server.media_dir / "ev4" / "recording.mp4")
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
    assert ffmpeg_errors(media_server.media_dir / "ev4" / "index.m3u8") == ""
    assert ffmpeg_errors(media_server.media_dir / "ev4" / "recording.mp4") == ""


WATCH_JS = """
async ([whep, token]) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    const video = document.querySelector('video') || document.body.appendChild(document.createElement('video'));
    video.muted = true;
    video.srcObject = stream;
    video.play();
  });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  const response = await fetch(whep, {method: 'POST', body: pc.localDescription.sdp,
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  const answer = await response.text();
  if (response.status !== 201) return {status: response.status, body: answer};
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  window.watcher = pc;
  return {status: 201};
}
"""

STATS_JS = """
async () => {
  const out = {};
  (await window.watcher.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' || s.type === 'remote-outbound-rtp') out[s.type + ':' + s.kind] = s;
  });
  return out;
}
"""


async def test_chromium_watches_over_whep(media_server: MediaServer) -> None:
    # The WHEP monitor in the studio: Chromium decodes the forwarded stream, gets sender reports
    # for both tracks (its A/V sync needs them), and needs no retransmission on loopback.
    from playwright.async_api import async_playwright

    from .conftest import watch_token
    from .publishers import AiortcPublisher

    pub = AiortcPublisher(media_server.url, "ev3", publish_token("ev3"))
    try:
        assert (await pub.start()).status_code == 201
        await wait_for(lambda: len(media_server.segments) >= 1, what="publisher media")
        async with async_playwright() as pw:
            browser = await launch(pw, "--autoplay-policy=no-user-gesture-required")
            try:
                page = await browser.new_page()
                await page.goto(f"{media_server.url}/test-page")
                result = await page.evaluate(WATCH_JS, [f"{media_server.url}/whep/ev3", watch_token("ev3")])
                assert result["status"] == 201, result
                stats: dict = {}

                async def enough() -> bool:
                    stats.update(await page.evaluate(STATS_JS))
                    video = stats.get("inbound-rtp:video", {})
                    return video.get("framesDecoded", 0) >= 3 * FPS and "remote-outbound-rtp:audio" in stats

                await wait_for(enough, what="three seconds of video decoded by Chromium")
            finally:
                await browser.close()
    finally:
        await pub.close()
    video, audio = stats["inbound-rtp:video"], stats["inbound-rtp:audio"]
    print({k: video.get(k) for k in ("framesReceived", "framesDecoded", "framesDropped", "keyFramesDecoded",
                                      "packetsLost", "nackCount", "pliCount", "freezeCount")})  # fmt: skip
    assert video["keyFramesDecoded"] >= 1
    # Nothing undecodable: the two counters are sampled together, and a loaded machine's decoder may still
    # hold a few received frames (91 of 94 once in CI), so a fifth of a second of lag is allowed.
    assert video["framesDecoded"] >= video["framesReceived"] - 6
    assert video["packetsLost"] == 0
    assert audio["totalSamplesReceived"] > 0 and audio["packetsLost"] == 0
    assert stats["remote-outbound-rtp:audio"]["packetsSent"] > 0  # from our sender reports
