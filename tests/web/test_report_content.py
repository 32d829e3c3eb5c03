"""What the report says, read in a browser: action labels in the reader's language, rejection reasons
apart from people counts, English plurals, and one time zone (REPORT_TIMEZONE) on every page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.test_screens import Lively

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_report_labels_plurals_and_time_zone(browser: Any, page_server: LiveServer, locale: str) -> None:
    base = page_server.base_url
    event = await Lively(base).build()
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        # A question with exactly one vote.
        voter = {"Authorization": f"Bearer {event.viewers[0]['token']}"}
        assert (await c.put(f"{event.api}/questions/{event.ids[3]}/vote", headers=voter)).status_code == 200
        starts = datetime.fromisoformat((await c.get(event.api)).json()["starts_at"])
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/e/{event.slug}/enter?token={ADMIN_TOKEN}")
    await page.goto(f"{base}/e/{event.slug}/report")

    actions = await page.locator("#moderation table.data").first.locator("tbody th").all_inner_texts()
    assert "note" not in actions  # the backstage notes row has a label, not the raw code
    assert ("Backstage note" if locale == "en-US" else "后台提示") in actions
    reasons = page.locator("#moderation table.data").nth(1)
    reason_rows = await reasons.locator("tbody th").all_inner_texts()
    assert reason_rows == (["Spam"] if locale == "en-US" else ["广告 / 垃圾信息"]), reason_rows
    people = await page.locator("#moderation-people").inner_text()
    assert ("Participants muted" if locale == "en-US" else "被禁言的参与者") in people

    votes = await page.locator(".top-votes").all_inner_texts()
    flat = [" ".join(v.split()) for v in votes]
    if locale == "en-US":
        assert "1 vote" in flat and "4 votes" in flat, flat
        assert "1 votes" not in flat

    # Times everywhere in the deployment's zone: the event page, the list, the report.
    # (The page may restate it in the reader's date style; the clock time is the same.)
    moment = starts.astimezone(ZoneInfo(page_server.settings.report_timezone))
    clocks = {moment.strftime("%H:%M"), f"{moment.hour % 12 or 12}:{moment.minute:02d}"}
    assert page_server.settings.report_timezone == "Asia/Shanghai"
    for url in (f"/e/{event.slug}", "/"):
        await page.goto(f"{base}{url}")
        when = await page.locator("p.when").first.inner_text()
        assert any(c in when for c in clocks) and "UTC" not in when, (when, clocks)
    await context.close()
