"""The viewer page picks the rendition by bandwidth: on a good link the full one, on a weak one (Chromium's network
throttled to a 4G-at-a-site rate) hls.js switches to the 360p rendition and keeps playing."""

from __future__ import annotations

import re
from typing import Any

import av
import httpx
import numpy as np
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.media.conftest import wait_for
from tests.media.publishers import AiortcPublisher, PatternVideoTrack
from tests.support import LiveServer
from tests.web.test_flow import watch_page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

MEDIA_WAIT_MS = 60_000
VIDEO = "document.querySelector('#video')"
PART = re.compile(r"/live/[^/]+/(360p/)?\d{6}\.\d+\.ts$")
# A weak link: well under the full rendition's rate, over the 360p one's.
WEAK_LINK_BITS = 700_000
NOISE_FRAMES = 15


class NoisyVideoTrack(PatternVideoTrack):
    """640x480 noise: the encoder spends its whole bit rate (~1 Mb/s, aiortc's), as on a real camera, unlike a
    flat pattern that a weak link could carry in full."""

    def __init__(self) -> None:
        super().__init__(width=640, height=480)
        rng = np.random.default_rng(7)
        self._noise = [rng.integers(16, 235, (480 * 3 // 2, 640), dtype=np.uint8) for _ in range(NOISE_FRAMES)]

    async def recv(self) -> av.VideoFrame:
        paced = await super().recv()
        frame = av.VideoFrame.from_ndarray(self._noise[self._n % NOISE_FRAMES], format="yuv420p")
        frame.pts, frame.time_base = paced.pts, paced.time_base
        return frame


async def test_the_page_plays_the_full_rendition_on_a_good_link_and_the_360p_one_on_a_weak_link(
    browser: Any, page_server: LiveServer
) -> None:
    base = page_server.base_url
    slug = unique_slug("abr")
    async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=20) as api:
        made = await api.post("/api/v1/events", json={"slug": slug, "title_zh": "弱网", "title_en": "Weak network"})
        assert made.status_code == 201, made.text
        assert (await api.post(f"/api/v1/events/{slug}/state", json={"state": "live"})).status_code == 200
    publisher = AiortcPublisher(base, slug, ADMIN["Authorization"][7:])
    publisher.video_track = NoisyVideoTrack()  # a camera's bit rate (noise), 640x480: 360p of it is 480x360
    errors: list[str] = []
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        assert (await publisher.start()).status_code == 201
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:

            async def master_ready() -> bool:
                text = (await http.get(f"/live/{slug}/master.m3u8")).text
                return "360p/index.m3u8" in text and "BANDWIDTH" in text

            for _ in range(300):
                if await master_ready():
                    break
                await http.get(f"/live/{slug}/index.m3u8", params={"_HLS_msn": 1})  # blocks until segments come
            master = (await http.get(f"/live/{slug}/master.m3u8")).text
        assert "RESOLUTION=640x480" in master and "RESOLUTION=480x360" in master, master

        good = await context.new_page()
        watch_page(good, errors)
        good_parts: list[str] = []
        good.on("request", lambda r: PART.search(r.url) and good_parts.append(r.url))
        await good.goto(f"{base}/e/{slug}?lang=en")
        await good.wait_for_function(f"() => {VIDEO}.currentTime > 3 && !{VIDEO}.paused", timeout=MEDIA_WAIT_MS)
        recent = good_parts[-6:]
        assert recent and all("/360p/" not in url for url in recent), good_parts
        assert await good.evaluate(f"{VIDEO}.dataset.rendition") == "640x480"

        weak = await context.new_page()
        watch_page(weak, errors)
        cdp = await context.new_cdp_session(weak)
        await cdp.send("Network.enable")
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 60, "downloadThroughput": WEAK_LINK_BITS / 8, "uploadThroughput": 50_000},
        )
        weak_parts: list[str] = []
        weak.on("request", lambda r: PART.search(r.url) and weak_parts.append(r.url))
        await weak.goto(f"{base}/e/{slug}?lang=en")
        await weak.wait_for_function(f"() => {VIDEO}.currentTime > 3 && !{VIDEO}.paused", timeout=MEDIA_WAIT_MS)
        # hls.js measured the link and went down to 360p (it may start on the full one, listed first).
        await wait_for(lambda: any("/360p/" in url for url in weak_parts), within=MEDIA_WAIT_MS / 1000, what="360p")
        await weak.wait_for_function(f"() => {VIDEO}.dataset.rendition === '480x360'", timeout=MEDIA_WAIT_MS)
        start = await weak.evaluate(f"{VIDEO}.currentTime")
        await weak.wait_for_function(f"() => {VIDEO}.currentTime > {start} + 3", timeout=MEDIA_WAIT_MS)
        assert any("/360p/" in url for url in weak_parts[-6:]), weak_parts[-12:]
    finally:
        await publisher.close()
        await context.close()
    assert errors == []
