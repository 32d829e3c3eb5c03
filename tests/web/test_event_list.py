"""The event list as a visitor reads it: live, then coming up (soonest first), then ended with a link to the
recording; a Chinese-only title gets a readable pinyin slug, not "event-2"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN
from tests.support import LiveServer
from tests.web.phone import PHONE, assert_fits_phone

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _create(c: httpx.AsyncClient, title_zh: str, *states: str, days: int | None = None) -> str:
    body: dict[str, Any] = {"title_zh": title_zh}
    if days is not None:
        body["starts_at"] = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    made = await c.post("/api/v1/events", headers=ADMIN, json=body)
    assert made.status_code == 201, made.text
    slug = str(made.json()["slug"])
    for state in states:
        assert (await c.post(f"/api/v1/events/{slug}/state", json={"state": state}, headers=ADMIN)).is_success
    return slug


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_events_are_listed_by_state_then_time_with_pinyin_slugs(
    browser: Any, page_server: LiveServer, locale: str
) -> None:
    async with httpx.AsyncClient(base_url=page_server.base_url, timeout=20) as c:
        later = await _create(c, "盾构施工安全答疑", days=9)
        ended = await _create(c, "住宅工程质量提升举措宣贯会", "live", "ended", days=-1)
        sooner = await _create(c, "基坑开挖答疑", days=2)
        live = await _create(c, "降水与沉降监测", "live", days=0)
        same_title = await _create(c, "基坑开挖答疑", days=3)
    assert ended == "zhu-zhai-gong-cheng-zhi-liang-ti-sheng-ju-cuo"  # cut between syllables at 48
    assert sooner == "ji-keng-kai-wa-da-yi"
    assert same_title.startswith("ji-keng-kai-wa-da-yi-") and same_title != sooner

    context = await browser.new_context(locale=locale, viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{page_server.base_url}/")
    groups = await page.locator("section.event-group").evaluate_all("(s) => s.map((n) => n.id)")
    assert groups == ["events-live", "events-scheduled", "events-ended"]
    order = await page.locator("li.card").evaluate_all("(cards) => cards.map((c) => c.dataset.slug)")
    assert order == [live, sooner, same_title, later, ended]
    recording = page.locator(f'#events-ended li[data-slug="{ended}"] a[href="/e/{ended}/archive"]')
    assert await recording.is_visible()
    await assert_fits_phone(page, "/")
    await context.close()
