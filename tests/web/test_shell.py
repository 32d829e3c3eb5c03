"""The web shell in a real browser: language from the browser, switchable, nothing from a CDN."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("locale", "heading"), [("zh-CN", "全部活动"), ("en-US", "All events")])
async def test_event_list_follows_the_browser_language(
    browser: Any, server: LiveServer, event: dict[str, Any], locale: str, heading: str
) -> None:
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server.base_url) else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(server.base_url + "/")
    assert await page.locator("h1").inner_text() == heading
    await page.screenshot(path=screenshot_path(f"event-list-{locale}"), full_page=True)
    await page.goto(f"{server.base_url}/e/{event['slug']}")
    await page.screenshot(path=screenshot_path(f"event-page-{locale}"), full_page=True)
    assert external == [] and errors == []
    await context.close()


async def test_language_switch_and_join_in_the_browser(browser: Any, server: LiveServer, event: dict[str, Any]) -> None:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(f"{server.base_url}/e/{event['slug']}")
    await page.get_by_role("link", name="切换语言").click()
    await page.wait_for_selector("html[lang=en]")
    assert await page.get_by_role("heading", name="Introduce yourself").is_visible()
    await page.get_by_role("button", name="Add your details").click()
    await page.get_by_label("Name").fill("<img src=x onerror=alert(1)>")
    await page.get_by_label("Organisation").fill("Shenzhen Metro Design Institute")
    await page.get_by_label("Stakeholder group").select_option("design")
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_selector("text=Joined as")
    assert await page.locator("#you-name").inner_text() == "<img src=x onerror=alert(1)>"
    await page.screenshot(path=screenshot_path("event-page-joined-en-phone"), full_page=True)
    await page.goto(f"{server.base_url}/")  # the choice sticks
    await page.wait_for_selector("html[lang=en]")
    await context.close()
