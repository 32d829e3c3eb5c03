"""The organiser edits an event's recogniser glossary on the admin page (one term per line, per language)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


async def test_the_organiser_saves_a_glossary_per_language_and_sees_it_again(
    browser: Any, page_server: LiveServer
) -> None:
    base = page_server.base_url
    slug = unique_slug("gloss")
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        made = await http.post("/api/v1/events", json={"slug": slug, "title_zh": "深基坑答疑"}, headers=ADMIN)
        assert made.status_code == 201, made.text
        context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{base}/admin/enter?token={ADMIN_TOKEN}")
        await page.goto(f"{base}/admin?lang=en")
        row = page.locator(f'li.event-row[data-slug="{slug}"]')
        await row.wait_for(timeout=WAIT_MS)
        await row.locator("summary").click()
        await row.get_by_label("Chinese terms").fill("深基坑\n钢支撑\n深基坑")
        await row.get_by_label("English terms").fill("steel strut\n")
        await row.get_by_role("button", name="Save glossary").click()
        await page.wait_for_selector("text=Glossary saved", timeout=WAIT_MS)
        assert await row.get_by_label("Chinese terms").input_value() == "深基坑\n钢支撑"
        await page.screenshot(path=str(screenshot_path("admin-glossary-en-desktop")))
        stored = (await http.get(f"/api/v1/events/{slug}/glossary", headers=ADMIN)).json()
        assert stored == {"zh": ["深基坑", "钢支撑"], "en": ["steel strut"]}
        await page.reload()
        row = page.locator(f'li.event-row[data-slug="{slug}"]')
        await row.locator("summary").click()
        await page.wait_for_function(
            "slug => document.querySelector(`li.event-row[data-slug='${slug}'] textarea[name=glossary_en]`).value",
            arg=slug,
            timeout=WAIT_MS,
        )
        assert await row.get_by_label("English terms").input_value() == "steel strut"
        assert not errors, errors
        await context.close()
