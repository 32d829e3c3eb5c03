"""The report and certificate pages in a real browser, both languages; screenshots and a PDF are saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN
from tests.server.scripted_event import Scripted, play
from tests.server.test_report_stills import make_recording
from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import ARTIFACTS, screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
async def scripted(server: LiveServer) -> Scripted:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        s = await play(server, client, training_min_minutes=30, title_en="Briefing: residential quality measures")
    make_recording(Path(server.settings.media_dir) / s.slug / "recording.mp4", seconds=8)
    return s


async def _context(browser: Any, server: LiveServer, locale: str, **extra: Any) -> tuple[Any, Any, list[str]]:
    context = await browser.new_context(locale=locale, **extra)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    # Load failures are caught by status below (Chromium's own /favicon.ico request is not ours to judge).
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "request", lambda r: problems.append(f"external: {r.url}") if not r.url.startswith(server.base_url) else None
    )
    return context, page, problems


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_report_page(browser: Any, server: LiveServer, scripted: Scripted, locale: str) -> None:
    context, page, problems = await _context(browser, server, locale, viewport={"width": 1280, "height": 900})
    await page.goto(f"{server.base_url}/e/{scripted.slug}/enter?token={ADMIN_TOKEN}")  # the organiser's link
    await page.goto(f"{server.base_url}/e/{scripted.slug}/report")
    heading = "活动报告" if locale == "zh-CN" else "Event report"
    assert heading in await page.title()
    assert await page.locator("svg.chart").count() == 5
    assert await page.locator("#summary .kpi-value").first.inner_text() == "6"
    await page.wait_for_function(
        "[...document.querySelectorAll('.still img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert await page.locator(".still img").count() == 4
    assert await page.locator(".top-question").count() == 4
    # Text the asker typed stays text: no <i> element from the answer.
    assert await page.locator(".top-answer i").count() == 0
    # No table is cut off at desktop width: each fits inside its section.
    cut = await page.evaluate(
        "() => [...document.querySelectorAll('table.data')]"
        ".filter((t) => t.getBoundingClientRect().right > t.closest('section').getBoundingClientRect().right + 1)"
        ".map((t) => t.querySelector('caption')?.textContent)"
    )
    assert cut == [], cut
    await page.screenshot(path=screenshot_path(f"report-{locale}"), full_page=True)

    await page.emulate_media(media="print")
    assert not await page.locator(".report-actions").is_visible()
    assert not await page.locator(".topbar").is_visible()
    await page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    await page.screenshot(path=screenshot_path(f"report-{locale}-print"), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"report-{locale}.pdf"
    await page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.stat().st_size > 20_000
    assert problems == []
    await context.close()


async def test_the_organiser_changes_the_training_minimum_on_the_report(
    browser: Any, server: LiveServer, scripted: Scripted
) -> None:
    context, page, problems = await _context(browser, server, "en-US", viewport={"width": 1280, "height": 900})
    await page.goto(f"{server.base_url}/e/{scripted.slug}/enter?token={ADMIN_TOKEN}")
    await page.goto(f"{server.base_url}/e/{scripted.slug}/report#training")
    assert await page.locator("#training-records tbody tr.met").count() == 3
    await page.get_by_label("Minimum watch time (minutes)").fill("60")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save", exact=True).click()
    assert await page.locator("#training-records tbody tr.met").count() == 1  # only 李工 watched an hour
    await page.locator("#training").screenshot(path=screenshot_path("report-training-en"))
    assert problems == []
    await context.close()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        restored = await client.patch(
            f"/api/v1/events/{scripted.slug}", json={"training_min_minutes": 30}, headers=ADMIN
        )
        assert restored.status_code == 200


@pytest.mark.parametrize(("locale", "viewport"), [("zh-CN", (1000, 1200)), ("en-US", (390, 844))])
async def test_certificate_page_is_public_and_a_wrong_code_is_a_clear_404(
    browser: Any, server: LiveServer, scripted: Scripted, locale: str, viewport: tuple[int, int]
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        training = (await client.get(f"/api/v1/events/{scripted.slug}/training", headers=ADMIN)).json()
    code = next(r for r in training["records"] if r["name"] == "王工")["certificate"]["code"]
    width, height = viewport
    context, page, problems = await _context(browser, server, locale, viewport={"width": width, "height": height})
    await page.goto(f"{server.base_url}/certificates/{code}")  # no cookie, no token: anyone can check
    assert await page.locator(".cert-name").inner_text() == "王工"
    assert await page.locator("#cert-code").inner_text() == code
    assert await page.get_by_text("Certificate of training").first.is_visible()
    assert await page.get_by_text("培训证明").first.is_visible()
    await page.screenshot(path=screenshot_path(f"certificate-{locale}"), full_page=True)
    await page.emulate_media(media="print")
    assert not await page.locator(".cert-actions").is_visible()
    await page.emulate_media(media="screen")

    response = await page.goto(f"{server.base_url}/certificates/AAAA-BBBB-CCCC-DDDD")
    assert response is not None and response.status == 404
    title = "未找到该证书" if locale == "zh-CN" else "No certificate has this code"
    assert await page.locator("h1").inner_text() == title
    await page.screenshot(path=screenshot_path(f"certificate-not-found-{locale}"), full_page=True)
    await page.locator("input[name=code]").fill(code.lower().replace("-", " "))
    async with page.expect_navigation():
        await page.locator("form button[type=submit]").click()
    assert page.url == f"{server.base_url}/certificates/{code}"
    assert problems == []
    await context.close()
