"""The organiser's page in a real browser: sign in, create and schedule an event, invite an expert with a
copyable link that works, revoke it, change settings, start the event; user text never runs as markup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000
TITLE = '住宅工程质量提升宣贯会<img src=x onerror="window.__xss=1">'


async def test_organiser_creates_invites_configures_and_starts_an_event(browser: Any, page_server: LiveServer) -> None:
    base = page_server.base_url
    errors: list[str] = []
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    invitee = await browser.new_context(locale="zh-CN")
    try:
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())
        await page.goto(f"{base}/admin")
        await page.get_by_label("管理令牌").fill("wrong")
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_selector("text=令牌不正确")
        await page.get_by_label("管理令牌").fill(ADMIN_TOKEN)
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_selector("#create-form")

        # Create and schedule.
        form = page.locator("#create-form")
        await form.get_by_label("中文标题").fill(TITLE)
        await form.get_by_label("英文标题").fill("Residential quality briefing")
        await form.get_by_label("网址标识").fill("quality-briefing")
        await form.get_by_label("活动类型").select_option("briefing")
        await form.get_by_label("开始时间").fill("2026-12-01T10:00")
        await form.get_by_label("结束时间").fill("2026-12-01T11:30")
        await form.get_by_label("话题").fill("渗漏, 开裂，空鼓")
        await form.get_by_label("参加方式").select_option("registration")
        await form.get_by_label("审核模式").select_option("post")
        await form.get_by_label("允许匿名提问").uncheck()
        await form.get_by_role("button", name="创建活动").click()
        row = page.locator('[data-slug="quality-briefing"]')
        await row.wait_for(timeout=WAIT_MS)
        assert await row.locator("h3").inner_text() == TITLE
        async with httpx.AsyncClient(base_url=base) as api:
            made = (await api.get("/api/v1/events/quality-briefing")).json()
        assert made["kind"] == "briefing" and made["topics"] == ["渗漏", "开裂", "空鼓"]
        assert made["join_policy"] == "registration" and made["moderation_mode"] == "post"
        assert made["allow_anonymous"] is False and made["starts_at"] and made["ends_at"]
        # Typed in the deployment's zone (REPORT_TIMEZONE, Asia/Shanghai), whatever the browser's own zone.
        assert made["starts_at"].startswith("2026-12-01T02:00") and made["ends_at"].startswith("2026-12-01T03:30")
        assert await row.get_by_role("link", name="活动报告").get_attribute("href") == "/e/quality-briefing/report"

        # Invite an expert: the link is copied and works in another browser.
        await row.get_by_label("姓名（选填）").fill("张专家")
        await row.get_by_role("button", name="生成邀请链接").click()
        link = row.locator(".invite input").first
        await link.wait_for(timeout=WAIT_MS)
        url = await link.input_value()
        assert url.startswith(f"{base}/e/quality-briefing/enter?token=")
        assert await page.evaluate("() => navigator.clipboard.readText()") == url
        studio = await invitee.new_page()
        await studio.goto(url)
        await studio.wait_for_url("**/e/quality-briefing/studio")
        await page.screenshot(path=screenshot_path("admin-invited-zh-CN-desktop"), full_page=True)

        # Revoke it: the link stops working at once.
        await row.get_by_role("button", name="撤销").click()
        await row.locator(".invite.revoked").wait_for(timeout=WAIT_MS)
        assert (await studio.goto(url)).status == 401

        # Settings: a passcode instead of registration, a new English title.
        await row.locator("summary").click()
        settings = row.locator("details form")
        await settings.get_by_label("英文标题").fill("Briefing: residential quality")
        await settings.get_by_label("参加方式").select_option("passcode")
        await settings.get_by_label("新口令（不改请留空）").fill("2026qm")
        await settings.get_by_role("button", name="保存").click()
        await page.wait_for_selector("text=已保存", timeout=WAIT_MS)
        async with httpx.AsyncClient(base_url=base) as api:
            saved = (await api.get("/api/v1/events/quality-briefing")).json()
        assert saved["title_en"] == "Briefing: residential quality" and saved["join_policy"] == "passcode"

        # Start it.
        await row.get_by_role("button", name="开始活动").click()
        await page.wait_for_selector('[data-slug="quality-briefing"] .badge.state-live', timeout=WAIT_MS)
        assert await page.evaluate("() => window.__xss") is None
        assert errors == []
    finally:
        await context.close()
        await invitee.close()
