"""DVR on the viewer page in Chromium: a late viewer goes back to the start of the event with one click and back
to live with one click; the moment a question was being answered is marked on the live timeline and seeks there.
The page plays the multivariant playlist (the full rendition and the 360p one)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.media.publishers import AiortcPublisher
from tests.support import LiveServer
from tests.web.conftest import screenshot_path
from tests.web.test_flow import ask_as, watch_page

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

MEDIA_WAIT_MS = 60_000
WAIT_MS = 20_000
VIDEO = "document.querySelector('#video')"
RANGE = "document.querySelector('.dvr-range')"


async def test_a_late_viewer_goes_back_to_the_start_and_to_live_and_seeks_to_an_answered_question(
    browser: Any, page_server: LiveServer, tmp_path: Path
) -> None:
    base = page_server.base_url
    slug = unique_slug("dvr")
    async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=20) as api:
        made = await api.post("/api/v1/events", json={"slug": slug, "title_zh": "基坑回看", "title_en": "Pit DVR"})
        assert made.status_code == 201, made.text
        assert (await api.post(f"/api/v1/events/{slug}/state", json={"state": "live"})).status_code == 200
    publisher = AiortcPublisher(base, slug, ADMIN["Authorization"][7:])
    errors: list[str] = []
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        assert (await publisher.start()).status_code == 201
        page = await context.new_page()
        watch_page(page, errors)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        await page.goto(f"{base}/e/{slug}?lang=en")
        await page.wait_for_function(f"() => {VIDEO}.currentTime > 1 && !{VIDEO}.paused", timeout=MEDIA_WAIT_MS)
        assert any(url.endswith(f"/live/{slug}/master.m3u8") for url in fetched), fetched

        # A question is answered a few seconds into the event: "answering now" is its chapter.
        question = await ask_as(base, slug, "Li Wei", "Site A", "construction", "How deep may the pit go?")
        async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=20) as api:
            for action in ("approve", "answering"):
                done = await api.post(f"/api/v1/events/{slug}/questions/{question}/actions", json={"action": action})
                assert done.status_code == 200, done.text
            answering_at = (await api.get(f"/api/v1/events/{slug}/questions")).json()
        moment = next(q for q in _questions(answering_at) if q["id"] == question)["answering_at"]

        # The viewer joins late: wait until the event is long enough to go back in.
        await page.wait_for_function(f"() => Number({RANGE}.max) - Number({RANGE}.min) > 12", timeout=MEDIA_WAIT_MS)
        # hls.js reloads the (long) playlists as delta updates, blocking on the next part.
        assert any("_HLS_part=" in url and url.endswith("&_HLS_skip=YES") for url in fetched), fetched[-20:]
        # No segment or part is fetched more than twice (hls.js fetched the parts of a segment numbered 0 hundreds of
        # times when the page started while it was being written, see below).
        media = Counter(url for url in fetched if url.endswith(".ts"))
        assert max(media.values()) <= 2, media.most_common(3)
        dvr = page.locator("#dvr")
        assert await dvr.is_visible() and not await dvr.evaluate("d => d.classList.contains('behind')")
        mark = page.locator(".dvr-chapter")
        await mark.wait_for(timeout=WAIT_MS)
        assert await mark.count() == 1
        assert await mark.get_attribute("aria-label") == "Answer 1: How deep may the pit go?"

        # One click back to the start of the event; it stays there (no jump back to the edge, no catching up).
        # (Undone in about one run in four while the event's first segment was numbered 0: server/media/hls.py,
        # FIRST_SEQUENCE.)
        await page.get_by_role("button", name="From the start").click()
        await page.wait_for_function(f"() => {VIDEO}.currentTime < 3 && !{VIDEO}.paused", timeout=WAIT_MS)
        assert await dvr.evaluate("d => d.classList.contains('behind')")
        await page.wait_for_function(f"() => {VIDEO}.currentTime > 4", timeout=WAIT_MS)  # it plays from there
        assert await page.evaluate(f"() => Number({RANGE}.max) - {VIDEO}.currentTime > 6")
        assert await page.evaluate(f"() => {VIDEO}.playbackRate") == 1
        await page.screenshot(path=screenshot_path("viewer-dvr-behind-en"))

        # The chapter mark seeks to the moment the question was being answered (on the recording's clock).
        first_wall = float((page_server.settings.media_dir / slug / "segments.log").read_text().split()[5])
        expected = moment - first_wall
        await mark.click()
        await page.wait_for_function(
            f"() => Math.abs({VIDEO}.currentTime - {expected}) < 1.5 && !{VIDEO}.seeking", timeout=WAIT_MS
        )

        # One click back to live.
        await page.get_by_role("button", name="Go live").click()
        await page.wait_for_function(
            f"() => Number({RANGE}.max) - {VIDEO}.currentTime < 3 && !{VIDEO}.paused", timeout=WAIT_MS
        )
        assert not await dvr.evaluate("d => d.classList.contains('behind')")
        assert await page.locator(".dvr-position").inner_text() == "Live"

        # The same controls in Chinese.
        zh = await context.new_page()
        watch_page(zh, errors)
        await zh.goto(f"{base}/e/{slug}?lang=zh-CN")
        await zh.locator(".dvr-chapter").wait_for(timeout=MEDIA_WAIT_MS)
        assert await zh.locator(".dvr-chapter").get_attribute("aria-label") == "答疑 1: How deep may the pit go?"
        assert await zh.get_by_role("button", name="从头观看").is_visible()
        assert await zh.get_by_role("button", name="回到直播").is_visible()
        await zh.screenshot(path=screenshot_path("viewer-dvr-zh"))
    finally:
        await publisher.close()
        await context.close()
    assert errors == []


def _questions(body: Any) -> list[dict[str, Any]]:
    return body["questions"] if isinstance(body, dict) else body
