"""Glass-to-glass latency of the viewer page: capture → picture on screen, native HLS and hls.js.

    .venv/bin/python bench/glass_to_glass.py                    # 20 s of samples per player
    .venv/bin/python bench/glass_to_glass.py --seconds 10 --only hlsjs

The whole app runs in this process (SQLite, in-process bus) on 127.0.0.1. An aiortc publisher (the
WHIP client an expert's browser would be, H.264) sends 640×360 frames that carry their capture time: the
low 24 bits of Unix milliseconds as 24 black/white blocks along the top. Chromium (Debian's, headless)
opens the real viewer page, `/e/{slug}?player=native` (Chromium's native HLS) and `?player=hlsjs` (what
the page picks in Chromium by default); on every presented
frame (`requestVideoFrameCallback`) the page's video is drawn to a canvas, the blocks are read back, and
now − stamp is one sample. Same machine, same clock. Prints median and p95 per player after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import uvicorn
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import VIDEO_CLOCK_RATE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402

WIDTH, HEIGHT, FPS = 640, 360, 30
BITS, BLOCK_W, BLOCK_H = 24, 24, 40
ADMIN_TOKEN = "bench-admin-token"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
WARM_UP_SECONDS = 6.0
DEBUG = bool(os.environ.get("G2G_DEBUG"))  # print the video element's state every second
STATE = """() => { const v = document.querySelector('#video'); const r = (x) => Array.from({length: x.length},
  (_, i) => [x.start(i).toFixed(2), x.end(i).toFixed(2)]);
  return {t: v.currentTime.toFixed(2), rate: v.playbackRate, seekable: r(v.seekable), buffered: r(v.buffered),
  last: window.__g2g.slice(-1)[0], err: v.error && v.error.message}; }"""

# Runs in the page: samples `now - stamp` for every presented frame of #video into window.__g2g.
SAMPLER = f"""
(() => {{
  const video = document.querySelector('#video');
  const canvas = document.createElement('canvas');
  canvas.width = {WIDTH}; canvas.height = {BLOCK_H};
  const ctx = canvas.getContext('2d', {{ willReadFrequently: true }});
  window.__g2g = [];
  const onFrame = () => {{
    const now = Date.now();
    if (video.videoWidth === {WIDTH}) {{
      ctx.drawImage(video, 0, 0, {WIDTH}, {BLOCK_H}, 0, 0, {WIDTH}, {BLOCK_H});
      const row = ctx.getImageData(0, {BLOCK_H // 2}, {WIDTH}, 1).data;
      let stamp = 0;
      for (let bit = 0; bit < {BITS}; bit++) {{
        const x = bit * {BLOCK_W} + {BLOCK_W // 2};
        stamp = stamp * 2 + (row[x * 4] > 128 ? 1 : 0);
      }}
      const age = ((now % {1 << BITS}) - stamp + {1 << BITS}) % {1 << BITS};
      window.__g2g.push(age);
    }}
    video.requestVideoFrameCallback(onFrame);
  }};
  video.requestVideoFrameCallback(onFrame);
}})()
"""


class StampedVideo(MediaStreamTrack):
    """Frames with their capture time (Unix ms, low 24 bits) as blocks along the top, paced at FPS."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None
        self._chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._n / FPS - time.monotonic()))
        stamp = int(time.time() * 1000) % (1 << BITS)
        luma = np.full((HEIGHT, WIDTH), 60 + (self._n % 60), np.uint8)  # some change every frame
        for bit in range(BITS):
            on = (stamp >> (BITS - 1 - bit)) & 1
            luma[:BLOCK_H, bit * BLOCK_W : (bit + 1) * BLOCK_W] = 235 if on else 16
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(luma.tobytes())
        frame.planes[1].update(self._chroma.tobytes())
        frame.planes[2].update(self._chroma.tobytes())
        frame.pts = int(self._n * VIDEO_CLOCK_RATE / FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._n += 1
        return frame


async def publish(base: str, slug: str, token: str) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(StampedVideo(), direction="sendonly")
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType == "video/H264"])
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        answer = await http.post(
            f"/whip/{slug}",
            content=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
        )
    answer.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
    return pc


async def measure(browser: Any, url: str, seconds: float) -> list[float]:
    page = await browser.new_page()
    try:
        await page.goto(url)
        await page.wait_for_function("() => document.querySelector('#video').currentTime > 0.5", timeout=60_000)
        await asyncio.sleep(WARM_UP_SECONDS)  # hls.js and the native player settle onto their live distance
        await page.evaluate(SAMPLER)
        for _ in range(int(seconds)):
            await asyncio.sleep(1)
            if DEBUG:
                print(await page.evaluate(STATE), flush=True)
        samples: list[float] = await page.evaluate("window.__g2g")
        return [s / 1000 for s in samples if s < 60_000]
    finally:
        await page.close()


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="g2g-"))
    port = int(args.port)
    settings = Settings(
        port=port,
        admin_token=ADMIN_TOKEN,
        secret_key="bench-secret",
        database_url=f"sqlite+aiosqlite:///{work / 'db.sqlite'}",
        media_dir=work / "media",
    )
    from server.db.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.database_url)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    pc = None
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.1)
        slug = f"g2g-{int(time.time())}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            made = await http.post(
                "/api/v1/events", json={"slug": slug, "title_zh": "延迟测量", "join_policy": "open"}, headers=admin
            )
            made.raise_for_status()
            invite = await http.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=admin)
            token = invite.json()["token"]
            await http.post(
                f"/api/v1/events/{slug}/state", json={"state": "live"}, headers={"Authorization": f"Bearer {token}"}
            )
        pc = await publish(base, slug, token)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
            )
            players = {"native": f"{base}/e/{slug}?player=native", "hlsjs": f"{base}/e/{slug}?player=hlsjs"}
            for name, url in players.items():
                if args.only and name != args.only:
                    continue
                samples = await measure(browser, url, args.seconds)
                if not samples:
                    print(f"{name:7} no samples (did the video play?)")
                    continue
                ordered = sorted(samples)
                p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
                print(
                    f"{name:7} glass-to-glass median {statistics.median(ordered):.2f} s, p95 {p95:.2f} s"
                    f" ({len(samples)} frames over {args.seconds:.0f} s)",
                    flush=True,
                )
            await browser.close()
    finally:
        if pc is not None:
            await pc.close()
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sampling time per player")
    parser.add_argument("--only", choices=["native", "hlsjs"])
    parser.add_argument("--port", default="18932")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
