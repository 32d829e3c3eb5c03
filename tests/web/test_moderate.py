"""The moderator console in a real browser: filters, edit-then-approve, duplicate merge, reject with a
reason the asker sees, bulk approve and reject, pin and reorder, pre/post mode, banned words, mute, and a
note that reaches the expert's studio live."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


class Event:
    def __init__(self, base: str) -> None:
        self.base = base
        self.slug = unique_slug("mod")
        self.api = f"/api/v1/events/{self.slug}"
        self.http = httpx.AsyncClient(base_url=base, timeout=20)

    async def create(self) -> Event:
        made = await self.http.post(
            "/api/v1/events",
            headers=ADMIN,
            json={"slug": self.slug, "title_zh": "基坑工程答疑", "topics": ["基坑", "降水"], "moderation_mode": "pre"},
        )
        assert made.status_code == 201, made.text
        self.mod = (await self.http.post(f"{self.api}/invites", json={"role": "moderator"}, headers=ADMIN)).json()
        self.expert = (await self.http.post(f"{self.api}/invites", json={"role": "expert"}, headers=ADMIN)).json()
        return self

    async def ask(self, name: str, group: str, text: str, topic: str | None = None) -> tuple[int, dict[str, Any]]:
        joined = (
            await self.http.post(
                f"{self.api}/join", json={"name": name, "organisation": f"{name}的单位", "stakeholder": group}
            )
        ).json()
        self.http.cookies.clear()  # each asker is another person: no cookie carries one join into the next
        body: dict[str, Any] = {"text": text}
        if topic:
            body["topic"] = topic
        asked = await self.http.post(
            f"{self.api}/questions", json=body, headers={"Authorization": f"Bearer {joined['token']}"}
        )
        assert asked.status_code == 201, asked.text
        return int(asked.json()["id"]), joined


async def test_moderator_console_end_to_end(browser: Any, page_server: LiveServer) -> None:
    base = page_server.base_url
    ev = await Event(base).create()
    first, _ = await ev.ask("王工", "owner", "基坑开挖时如何控制邻近地铁隧道的变形？", "基坑")
    dup, _ = await ev.ask("李工", "construction", "基坑开挖时怎样控制邻近地铁隧道变形", "基坑")
    to_edit, _ = await ev.ask("赵工", "design", "降水井间距？？", "降水")
    spam, spammer = await ev.ask("钱某", "public", "承接各类工程资质代办业务")
    bulk = [(await ev.ask(f"观众{i}", "supervision", f"第{i}个关于监测的问题：预警值如何设定"))[0] for i in range(3)]

    errors: list[str] = []
    mod_ctx = await browser.new_context(locale="en-US", viewport={"width": 1440, "height": 1000})
    viewer_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    expert_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        page = await mod_ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())
        await page.goto(ev.mod["url"])
        await page.wait_for_selector(f'#review-list [data-id="{first}"]', timeout=WAIT_MS)
        assert await page.locator("#n-pending").inner_text() == "7"

        # Filters: by stakeholder group, by topic, by text.
        await page.select_option("#f-group", "design")
        assert await page.locator("#review-list .mcard").count() == 1
        await page.select_option("#f-group", "")
        await page.select_option("#f-topic", "基坑")
        assert await page.locator("#review-list .mcard").count() == 2
        await page.select_option("#f-topic", "")
        await page.fill("#f-text", "资质")
        assert await page.locator("#review-list .mcard").count() == 1
        await page.fill("#f-text", "")

        # Duplicate suggestion shown inline; approve the original, then merge the duplicate into it.
        dup_card = page.locator(f'#review-list [data-id="{dup}"]')
        assert "possible duplicate" in (await dup_card.inner_text())
        await page.locator(f'#review-list [data-id="{first}"] [data-role="approve"]').click()
        await page.wait_for_selector(f'#queue-list [data-id="{first}"]', timeout=WAIT_MS)
        await dup_card.locator(f'[data-role="merge-{first}"]').click()
        await page.wait_for_selector(f'#review-list [data-id="{dup}"]', state="detached", timeout=WAIT_MS)

        # Edit, then approve in one step; the original wording is kept for the record.
        await page.locator(f'#review-list [data-id="{to_edit}"] [data-role="edit"]').click()
        await page.locator(f'#review-list [data-id="{to_edit}"] textarea').fill("降水井的布置间距如何确定？")
        await page.get_by_role("button", name="Save & approve").click()
        edited = page.locator(f'#queue-list [data-id="{to_edit}"] .q-text')
        await edited.wait_for(timeout=WAIT_MS)
        assert await edited.inner_text() == "降水井的布置间距如何确定？"

        # Reject with a reason: the asker is told why, on their own page.
        viewer = await viewer_ctx.new_page()
        viewer.on("pageerror", lambda e: errors.append(str(e)))
        await viewer_ctx.add_cookies([{"name": f"sitecast_{ev.slug}", "value": spammer["token"], "url": base}])
        await viewer.goto(f"{base}/e/{ev.slug}")
        await viewer.wait_for_selector("#queue-list li", timeout=WAIT_MS)
        card = page.locator(f'#review-list [data-id="{spam}"]')
        await card.locator('[data-role="reject"]').click()
        await card.locator("select").select_option("spam")
        await card.get_by_placeholder("Note to the asker (optional)").fill("请勿发布广告")
        await card.get_by_role("button", name="Reject", exact=True).last.click()
        await viewer.wait_for_selector("text=您的问题未被公开：广告或无意义内容 — 请勿发布广告", timeout=WAIT_MS)
        await viewer.get_by_role("tab", name="我的").click()
        assert "请勿发布广告" in await viewer.locator("#queue-list").inner_text()
        await viewer.screenshot(path=screenshot_path("moderate-viewer-rejected-zh-CN-phone"), full_page=True)

        # Bulk: approve two selected, reject the third with one reason.
        for qid in bulk[:2]:
            await page.locator(f'#review-list [data-id="{qid}"] input[type=checkbox]').check()
        await page.get_by_role("button", name="Approve selected").click()
        for qid in bulk[:2]:
            await page.wait_for_selector(f'#queue-list [data-id="{qid}"]', timeout=WAIT_MS)
        await page.locator(f'#review-list [data-id="{bulk[2]}"] input[type=checkbox]').check()
        await page.get_by_role("button", name="Reject selected").click()
        await page.select_option("#bulk-reason", "off_topic")
        await page.click("#bulk-reject-confirm")
        await page.wait_for_selector("#review-empty:not([hidden])", timeout=WAIT_MS)
        assert await page.locator("#n-pending").inner_text() == "0"
        assert await page.locator("#n-rejected").inner_text() == "2"

        # Pin as next, then reorder by hand: the expert's studio shows the same order.
        queue = page.locator("#queue-list .mcard")
        last_id = await queue.last.get_attribute("data-id")
        await queue.last.locator('[data-role="pin"]').click()
        await page.wait_for_function(
            f"() => document.querySelector('#queue-list .mcard').dataset.id === '{last_id}'", timeout=WAIT_MS
        )
        second = await queue.nth(1).get_attribute("data-id")
        third = await queue.nth(2).get_attribute("data-id")
        await queue.nth(1).locator('[data-role="down"]').click()
        await page.wait_for_function(
            f"() => [...document.querySelectorAll('#queue-list .mcard')].slice(1, 3).map(c => c.dataset.id).join()"
            f" === '{third},{second}'",
            timeout=WAIT_MS,
        )
        expert = await expert_ctx.new_page()
        expert.on("pageerror", lambda e: errors.append(str(e)))
        await expert.goto(ev.expert["url"])
        await expert.wait_for_selector("#queue-list .mcard", timeout=WAIT_MS)
        studio_order = await expert.eval_on_selector_all("#queue-list .mcard", "cards => cards.map(c => c.dataset.id)")
        assert studio_order[:3] == [last_id, third, second]

        # A backstage note reaches the studio at once; the expert's reply comes back.
        await page.fill("#note-text", "还剩 10 分钟，请先答置顶的问题")
        await page.get_by_role("button", name="Send to expert").click()
        await expert.wait_for_selector("#notes >> text=还剩 10 分钟，请先答置顶的问题", timeout=WAIT_MS)
        await expert.fill("#note-text", '收到<img src=x onerror="window.__xss=1">')
        await expert.get_by_role("button", name="回复").click()
        await page.wait_for_selector('#notes >> text=收到<img src=x onerror="window.__xss=1">', timeout=WAIT_MS)
        assert await page.evaluate("() => window.__xss") is None

        # Post-moderation: a clean question goes straight to the queue; banned words still hold one back.
        await page.get_by_role("button", name="Post-moderate").click()
        await page.wait_for_selector('#mode-post[aria-pressed="true"]')
        await page.fill("#word-text", "代办")
        await page.press("#word-text", "Enter")
        await page.wait_for_selector("#words >> text=代办")
        clean, _ = await ev.ask("孙工", "testing", "检测报告的有效期是多久？")
        held, held_asker = await ev.ask("周某", "public", "资质代办找我")
        await page.wait_for_selector(f'#queue-list [data-id="{clean}"]', timeout=WAIT_MS)
        held_card = page.locator(f'#review-list [data-id="{held}"]')
        await held_card.wait_for(timeout=WAIT_MS)
        assert "banned word" in await held_card.inner_text()
        await page.get_by_role("button", name="Remove 代办").click()
        await page.wait_for_selector("#words >> text=代办", state="detached")
        await page.get_by_role("button", name="Pre-moderate").click()
        await page.wait_for_selector('#mode-pre[aria-pressed="true"]')

        # Mute the asker: they are listed as restricted and cannot ask again until restored.
        await held_card.locator('[data-role="mute"]').click()
        await page.wait_for_selector("#restricted >> text=周某", timeout=WAIT_MS)
        refused = await ev.http.post(
            f"{ev.api}/questions",
            json={"text": "再问一个问题试试"},
            headers={"Authorization": f"Bearer {held_asker['token']}"},
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "muted"
        await page.locator("#restricted").get_by_role("button", name="Lift restriction").click()
        await page.wait_for_selector("#restricted-empty:not([hidden])", timeout=WAIT_MS)

        await page.screenshot(path=screenshot_path("moderate-console-en-desktop"), full_page=True)
        assert errors == []
    finally:
        for ctx in (mod_ctx, viewer_ctx, expert_ctx):
            await ctx.close()
        await ev.http.aclose()


# The placeholder's text wider than the box it is typed into: cut off (measured with the input's own font).
PLACEHOLDER_CUT_JS = """
(sel) => {
  const input = document.querySelector(sel);
  const style = getComputedStyle(input);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return ctx.measureText(input.placeholder).width > room;
}
"""


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_console_follows_the_event_state_and_keeps_answered_questions_in_sight(
    browser: Any, page_server: LiveServer, locale: str
) -> None:
    base = page_server.base_url
    ev = await Event(base).create()
    answered, _ = await ev.ask("王工", "owner", "基坑降水对周边建筑有什么影响？", "降水")
    mod = {"Authorization": f"Bearer {ev.mod['token']}"}
    for action in ("approve", "answered"):
        r = await ev.http.post(f"{ev.api}/questions/{answered}/actions", json={"action": action}, headers=mod)
        assert r.status_code == 200, r.text
    for width in (1366, 390):
        context = await browser.new_context(locale=locale, viewport={"width": width, "height": 900})
        page = await context.new_page()
        await page.goto(ev.mod["url"])
        # Answered questions are in sight with the review filter left as it opens ("pending").
        await page.wait_for_selector(f'#answered-list [data-id="{answered}"]', timeout=WAIT_MS)
        assert await page.locator("#f-status").input_value() == "pending"
        assert not await page.evaluate(PLACEHOLDER_CUT_JS, "#f-text"), f"search placeholder cut at {width} px"
        if width == 390:
            await context.close()
            continue
        # The per-asker limit has its control: 30 s as the event came, set to 45.
        rate = page.locator("#rate-seconds")
        await page.wait_for_function("() => document.querySelector('#rate-seconds').value === '30'")
        await rate.fill("45")
        await page.locator("#rate-form button[type=submit]").click()
        await page.wait_for_selector(".toast-ok", timeout=WAIT_MS)
        assert (await ev.http.get(f"{ev.api}/moderation", headers=mod)).json()["rate_limit_seconds"] == 45
        badge = page.locator("#event-state")
        assert await badge.get_attribute("class") == "badge state-scheduled"
        for state, zh, en in (("live", "直播中", "Live"), ("ended", "已结束", "Ended")):
            moved = await ev.http.post(f"{ev.api}/state", json={"state": state}, headers=ADMIN)
            assert moved.status_code == 200, moved.text
            await page.wait_for_function(
                "(s) => document.querySelector('#event-state').classList.contains('state-' + s)", arg=state
            )
            assert await badge.inner_text() == (zh if locale == "zh-CN" else en)
        await page.screenshot(path=screenshot_path(f"moderate-answered-{locale}"), full_page=True)
        await context.close()
    await ev.http.aclose()
