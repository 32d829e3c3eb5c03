"""A viewer rewords, then withdraws, their own pending question from "mine" on the event page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import LiveServer
from tests.web.conftest import screenshot_path
from tests.web.test_polls import make_event

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


async def test_reword_and_withdraw_a_pending_question(browser: Any, page_server: LiveServer) -> None:
    base = page_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        slug, mod = await make_event(http)
        staff = {"Authorization": f"Bearer {mod['token']}"}
        context = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{base}/e/{slug}")
        await page.locator("#ask-text").fill("预看房发现空鼓怎么办")
        await page.get_by_role("button", name="提交问题").click()
        await page.get_by_role("tab", name="我的").click()
        item = page.locator("#queue-list li.mine-item").first
        await item.get_by_role("button", name="修改").click()
        await item.get_by_label("修改你的问题").fill("业主预看房时发现墙面空鼓，应该怎样处理？")
        await item.get_by_role("button", name="保存修改").click()
        await item.get_by_text("业主预看房时发现墙面空鼓，应该怎样处理？").wait_for(timeout=WAIT_MS)
        listed = (await http.get(f"/api/v1/events/{slug}/questions", headers=staff)).json()["questions"]
        assert [q["text"] for q in listed] == ["业主预看房时发现墙面空鼓，应该怎样处理？"]
        await page.screenshot(path=screenshot_path("own-question-zh-phone"), full_page=True)
        await item.get_by_role("button", name="撤回").click()
        await item.get_by_role("button", name="确认撤回").click()
        await page.locator("#queue-list li.mine-item").wait_for(state="detached", timeout=WAIT_MS)
        assert (await http.get(f"/api/v1/events/{slug}/questions", headers=staff)).json()["questions"] == []
        assert errors == []
        await context.close()
