"""The expert studio after the end: nothing says "sending", the camera is off, the recording (and for the
organiser the report) is a click away, and closing the sessions raises no 404 in the console."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEDIA_WAIT_MS = 30_000


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_studio_after_the_end_stops_everything_and_points_to_the_archive(
    browser: Any, page_server: LiveServer, locale: str
) -> None:
    base = page_server.base_url
    slug = unique_slug("stu")
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        made = await http.post("/api/v1/events", headers=ADMIN, json={"slug": slug, "title_zh": "盾构施工答疑"})
        assert made.status_code == 201
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("dialog", lambda d: d.accept())
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.request.method} {r.url} {r.status}") if r.status >= 400 else None,
    )
    await page.goto(f"{base}/e/{slug}/enter?token={ADMIN_TOKEN}")
    await page.goto(f"{base}/e/{slug}/studio")
    await page.wait_for_function("() => document.querySelector('#preview').videoWidth > 0", timeout=MEDIA_WAIT_MS)
    await page.locator("#go-live").click()
    await page.wait_for_selector('#onair[data-state="live"]', timeout=MEDIA_WAIT_MS)
    await page.wait_for_function("() => document.querySelector('#monitor').videoWidth > 0", timeout=MEDIA_WAIT_MS)
    sending = "推流正常" if locale == "zh-CN" else "Sending video"
    await page.wait_for_selector(f"#publish-status:text('{sending}')", timeout=MEDIA_WAIT_MS)

    await page.locator("#end-event").click()
    await page.wait_for_selector("#ended-panel:not([hidden])", timeout=MEDIA_WAIT_MS)
    assert sending not in await page.locator("#publish-status").inner_text()
    assert await page.evaluate("() => document.querySelector('#preview').srcObject") is None
    assert await page.locator(f'#ended-panel a[href="/e/{slug}/archive"]').is_visible()
    assert await page.locator(f'#ended-panel a[href="/e/{slug}/report"]').is_visible()
    await page.wait_for_selector("#event-state.state-ended")
    await page.screenshot(path=screenshot_path(f"studio-ended-{locale}"), full_page=True)
    # Opened again later: no camera, the same way on.
    await page.reload()
    await page.wait_for_selector("#ended-panel:not([hidden])")
    assert await page.evaluate("() => document.querySelector('#preview').srcObject") is None
    assert problems == [], problems
    await context.close()
