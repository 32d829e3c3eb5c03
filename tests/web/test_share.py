"""What people coming from Slido, Zoom Webinar or YouTube Live look for on an event page: a share link with a
QR code drawn by us, a calendar file and a countdown for a scheduled event; certificates in the navigation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer
from tests.web.conftest import screenshot_path
from tests.web.phone import PHONE, assert_fits_phone

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_share_link_qr_calendar_countdown_and_certificate_lookup(
    browser: Any, page_server: LiveServer, locale: str
) -> None:
    base = page_server.base_url
    slug = unique_slug("share")
    starts = (datetime.now(UTC) + timedelta(days=1, hours=2)).replace(microsecond=0)
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        made = await c.post(
            "/api/v1/events",
            headers=ADMIN,
            json={
                "slug": slug,
                "title_zh": "地下工程施工扰动安全防范直播答疑",
                "title_en": "Live Q&A, disturbance; safety",
                "starts_at": starts.isoformat(),
            },
        )
        assert made.status_code == 201, made.text
    context = await browser.new_context(locale=locale, viewport=PHONE)
    external: list[str] = []
    context.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
    page = await context.new_page()
    await page.goto(f"{base}/e/{slug}")

    countdown = page.locator("#countdown")
    pattern = r"Starts in 1 day \d\d:\d\d:\d\d" if locale == "en-US" else r"距开始还有 1 天 \d\d:\d\d:\d\d"
    await page.wait_for_function(
        "(re) => new RegExp(re).test(document.querySelector('#countdown').textContent)", arg=pattern
    )
    first = await countdown.inner_text()
    await page.wait_for_function("(was) => document.querySelector('#countdown').textContent !== was", arg=first)

    # The calendar file: the event at its time, in UTC, with the link.
    href = await page.locator("#add-calendar").get_attribute("href")
    ics = await page.request.get(f"{base}{href}")
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    text = (await ics.text()).replace("\r\n ", "")  # unfolded (long lines continue after CRLF + space)
    assert "BEGIN:VEVENT" in text and f"DTSTART:{starts.strftime('%Y%m%dT%H%M%SZ')}" in text
    assert f"URL:{base}/e/{slug}" in text
    assert "SUMMARY:地下工程施工扰动安全防范直播答疑 / Live Q&A\\, disturbance\\; safety" in text

    # The share box: the link and its QR code, drawn by the server itself (nothing from outside).
    await page.locator("#share summary").click()
    assert await page.locator("#share-link").input_value() == f"{base}/e/{slug}"
    await page.wait_for_function("() => document.querySelector('#share img').naturalWidth > 100")
    svg = await page.request.get(f"{base}/e/{slug}/qr.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and b"<path" in await svg.body()
    await assert_fits_phone(page, f"/e/{slug} with the share box open")
    await page.screenshot(path=screenshot_path(f"viewer-share-{locale}-phone"), full_page=True)

    # Certificate lookup from the navigation.
    name = "Certificates" if locale == "en-US" else "证书查询"
    async with page.expect_navigation():
        await page.locator(".topbar nav").get_by_role("link", name=name).click()
    assert page.url == f"{base}/certificates"
    assert external == []
    await context.close()
