"""Live captions on the viewer page in a real browser: a WHIP publisher speaks (espeak-ng), the page
shows the spoken line over the video, in the language spoken; the toggle and the size stick."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db.migrate import upgrade
from tests.captions.speech import Script, SpeechTrack, espeak
from tests.conftest import ADMIN, unique_slug
from tests.media.publishers import AiortcPublisher
from tests.support import LiveServer, live_server
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

# Recognition on a busy shared 2-core machine: a phrase is well under this.
CAPTION_WAIT_MS = 60_000


@pytest.fixture
async def captioned(tmp_path: Path) -> AsyncIterator[LiveServer]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'captions.db'}"
    upgrade(url)
    async with live_server(database_url=url, media_dir=tmp_path / "media", live_captions=True) as server:
        yield server


async def test_the_viewer_page_shows_the_spoken_line_and_keeps_the_toggle_and_size(
    browser: Any, captioned: LiveServer, tmp_path: Path
) -> None:
    base = captioned.base_url
    slug = unique_slug("capv")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        made = await http.post(
            "/api/v1/events",
            json={"slug": slug, "title_zh": "基坑答疑", "title_en": "Foundation pit Q&A"},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        assert (
            await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)
        ).status_code == 200

        invite = await http.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)
        moderator_url = invite.json()["url"]

    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{base}/e/{slug}?lang=en")
    # A moderator's console, open before anyone speaks (live pages get captions as they are published).
    staff = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})
    console = await staff.new_page()
    console.on("pageerror", lambda e: errors.append(str(e)))
    await console.goto(moderator_url)
    await console.goto(f"{base}/e/{slug}/moderate?lang=en")
    # The present view for the room shows the captions too.
    present = await context.new_page()
    present.on("pageerror", lambda e: errors.append(str(e)))
    await present.goto(f"{base}/e/{slug}/present?lang=en")
    toggle = page.locator(".captions-toggle")
    assert await toggle.inner_text() == "Captions: on"

    script = Script([espeak("The foundation pit must be monitored every day.", tmp_path / "p.wav")])
    publisher = AiortcPublisher(base, slug, ADMIN["Authorization"][7:])
    publisher.audio_track = SpeechTrack(script)
    try:
        assert (await publisher.start()).status_code == 201
        line = page.locator(".captions .caption-line:not(.interim)", has_text="monitored")
        await line.wait_for(timeout=CAPTION_WAIT_MS)
    finally:
        await publisher.close()
    assert await line.get_attribute("lang") == "en"
    await present.locator("#caption-box .caption-line:not(.interim)", has_text="monitored").wait_for(timeout=15_000)
    await present.screenshot(path=str(screenshot_path("captions-present-en-desktop")))
    await present.close()
    await page.screenshot(path=str(screenshot_path("captions-viewer-en-desktop")))

    # The moderator corrects the line; the viewer's page shows the correction.
    heard = console.locator("#caption-box .caption-line:not(.interim)", has_text="monitored")
    await heard.wait_for(timeout=CAPTION_WAIT_MS)
    console.on("dialog", lambda d: d.accept("The foundation pit (基坑) must be monitored every day."))
    await heard.get_by_role("button", name="Correct").click()
    await page.locator(".captions .caption-line", has_text="(基坑)").wait_for(timeout=15_000)
    await console.screenshot(path=str(screenshot_path("captions-moderate-en-desktop")))
    await staff.close()

    await page.locator(".captions-size").click()
    assert await page.locator(".captions").get_attribute("data-size") == "l"
    await toggle.click()
    assert await toggle.inner_text() == "Captions: off" and await page.locator(".captions").is_hidden()
    await page.reload()  # the viewer's choices are remembered
    assert await page.locator(".captions-toggle").inner_text() == "Captions: off"
    assert await page.locator(".captions").get_attribute("data-size") == "l"
    # The reloaded page joined late: its snapshot brought the current (corrected) line, nobody spoke since.
    await page.locator(".captions-toggle").click()
    await page.locator(".captions .caption-line", has_text="(基坑)").wait_for(timeout=5_000)
    assert not errors, errors
    await context.close()
