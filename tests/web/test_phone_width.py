"""Every page at a phone's width (390 px), in both languages: nothing may scroll sideways."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import screenshot_path
from tests.web.phone import PHONE, assert_fits_phone
from tests.web.test_screens import Lively

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


async def _ended_event(base: str) -> str:
    slug = unique_slug("end")
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        made = await c.post(
            "/api/v1/events",
            headers=ADMIN,
            json={"slug": slug, "title_zh": "住宅工程质量提升举措宣贯会", "title_en": "Residential quality briefing"},
        )
        assert made.status_code == 201, made.text
        for state in ("live", "ended"):
            moved = await c.post(f"/api/v1/events/{slug}/state", json={"state": state}, headers=ADMIN)
            assert moved.status_code == 200, moved.text
    return slug


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_every_page_fits_a_phone_without_sideways_scroll(
    browser: Any, page_server: LiveServer, locale: str
) -> None:
    base = page_server.base_url
    event = await Lively(base).build()
    ended = await _ended_event(base)
    context = await browser.new_context(locale=locale, viewport=PHONE)
    page = await context.new_page()

    async def visit(url: str, ready: str | None = None) -> None:
        await page.goto(url if url.startswith("http") else f"{base}{url}")
        if ready:
            await page.wait_for_selector(ready, timeout=WAIT_MS)
        await assert_fits_phone(page, url)

    await visit("/")
    await visit("/search?q=基坑")
    await visit("/certificates")
    await visit("/certificates/AAAA-BBBB-CCCC-DDDD")
    await visit("/admin")
    await visit("/e/no-such-event")
    await visit(f"/e/{event.slug}", "#join-panel")
    await visit(f"/e/{event.slug}/certificate")
    await visit(f"/e/{ended}", "#player-status")
    await visit(f"/e/{ended}/archive")
    await context.add_cookies([{"name": f"sitecast_{event.slug}", "value": event.viewers[0]["token"], "url": base}])
    await visit(f"/e/{event.slug}", "#queue-list li.q")
    await visit(event.mod["url"], "#review-list .mcard")
    await visit(event.expert["url"], "#queue-list .mcard")
    await visit(f"/admin/enter?token={ADMIN_TOKEN}", f'[data-slug="{event.slug}"] .invite')
    await visit(f"/e/{event.slug}/report", "#summary")
    await page.screenshot(path=screenshot_path(f"report-phone-{locale}"), full_page=True)
    await visit(f"/e/{ended}/report", "#summary")
    await context.close()
