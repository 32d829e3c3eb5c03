"""The viewer page's feedback in a real browser: asking without registering (open event), anonymously,
held as a duplicate then merged, the counter, the rate limit, a passcode event, and questions closing when
the event ends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


async def make_event(http: httpx.AsyncClient, **fields: Any) -> tuple[str, dict[str, str]]:
    slug = unique_slug("view")
    made = await http.post(
        "/api/v1/events", json={"slug": slug, "title_zh": "预看房工作指引宣贯", **fields}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    mod = (await http.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)).json()
    return slug, {"Authorization": f"Bearer {mod['token']}"}


async def test_open_event_anonymous_duplicate_merge_rate_limit_and_end(browser: Any, page_server: LiveServer) -> None:
    base = page_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        slug, mod = await make_event(http, moderation_mode="post", allow_anonymous=True)
        api = f"/api/v1/events/{slug}"
        other = (await http.post(f"{api}/join", json={"name": "王工"})).json()
        kept = await http.post(
            f"{api}/questions",
            json={"text": "业主预看房发现墙面空鼓应该如何处理？"},
            headers={"Authorization": f"Bearer {other['token']}"},
        )
        assert kept.json()["status"] == "approved"

        context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{base}/e/{slug}")
        await page.wait_for_selector("#queue-list li.q", timeout=WAIT_MS)

        # Counter and length cap.
        box = page.get_by_label("Your question")
        await box.fill("长" * 600)
        assert await page.locator("#ask-count").inner_text() == "500 / 500"
        assert "warn" in (await page.locator("#ask-count").get_attribute("class") or "")

        # An open event: ask straight away, anonymously; post-moderation publishes it at once.
        await box.fill("交房时卫生间渗漏，业主可以要求开发商返工吗？")
        await page.get_by_label("Ask anonymously").check()
        await page.get_by_role("button", name="Send question").click()
        await page.wait_for_selector("text=Posted! Your question is now in the queue.", timeout=WAIT_MS)
        mine = page.locator("#queue-list li.mine")
        await mine.wait_for(timeout=WAIT_MS)
        assert "Anonymous" in await mine.locator(".who").inner_text()

        # Asking again at once: the page says how long to wait.
        await box.fill("再问一个：开裂的验收标准是什么？")
        await page.get_by_role("button", name="Send question").click()
        await page.wait_for_selector("text=/You are asking too quickly; try again in \\d+ s/", timeout=WAIT_MS)

        # A fresh visitor asks what was already asked: held as a duplicate, then merged by a moderator.
        second = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
        phone = await second.new_page()
        phone.on("pageerror", lambda e: errors.append(str(e)))
        await phone.goto(f"{base}/e/{slug}")
        await phone.get_by_label("Your question").fill("业主预看房时发现墙面空鼓，应该怎样处理？")
        await phone.get_by_role("button", name="Send question").click()
        await phone.wait_for_selector("text=A similar question was already asked", timeout=WAIT_MS)
        listed = await http.get(f"{api}/questions", headers=mod)
        dup = next(q for q in listed.json()["questions"] if q["status"] == "pending")
        assert dup["duplicate_of"] == kept.json()["id"]
        merged = await http.post(
            f"{api}/questions/{dup['id']}/actions", json={"action": "merge", "into": dup["duplicate_of"]}, headers=mod
        )
        assert merged.status_code == 200, merged.text
        await phone.wait_for_selector("text=Your question was merged with a similar one", timeout=WAIT_MS)
        await phone.get_by_role("tab", name="Mine").click()
        await phone.wait_for_selector("#queue-list >> text=Merged with a similar question.")
        await phone.screenshot(path=screenshot_path("viewer-merged-en-phone"), full_page=True)

        # The event ends: questions close and the recording is a click away.
        assert (await http.post(f"{api}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
        assert (await http.post(f"{api}/state", json={"state": "ended"}, headers=ADMIN)).status_code == 200
        link = page.get_by_role("link", name="Watch the recording")
        await link.wait_for(timeout=WAIT_MS)
        assert await link.get_attribute("href") == f"/e/{slug}/archive"
        assert await page.get_by_label("Your question").is_disabled()
        assert errors == []
        await context.close()
        await second.close()


async def test_passcode_event_asks_for_the_passcode_first(browser: Any, page_server: LiveServer) -> None:
    base = page_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        slug, _ = await make_event(http, join_policy="passcode", passcode="qm2026", allow_anonymous=False)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(f"{base}/e/{slug}")
    await page.get_by_label("提问", exact=False).first.wait_for()
    await page.locator("#ask-text").fill("口令活动里提问会怎样？")
    await page.get_by_role("button", name="提交问题").click()
    await page.wait_for_selector("text=请先登记，再提问或投票。")
    await page.get_by_label("姓名").fill("林工")
    await page.get_by_label("参会口令").fill("wrong")
    await page.get_by_role("button", name="进入").click()
    await page.wait_for_selector("text=口令不正确。")
    await page.get_by_label("参会口令").fill("qm2026")
    await page.get_by_role("button", name="进入").click()
    await page.wait_for_selector("#you-panel:not([hidden])", timeout=WAIT_MS)
    await page.get_by_role("button", name="提交问题").click()
    await page.wait_for_selector("text=已提交，主持人审核后将公开显示。", timeout=WAIT_MS)
    await context.close()


async def test_asking_feedback_topic_reset_countdown_one_toast_and_group_shown(
    browser: Any, page_server: LiveServer
) -> None:
    base = page_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        slug, mod = await make_event(http, moderation_mode="pre", topics=["卫生间", "开裂"])
        api = f"/api/v1/events/{slug}"
        assert (await http.patch(f"{api}/moderation", json={"rate_limit_seconds": 3}, headers=mod)).is_success
        context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(f"{base}/e/{slug}")
        await page.locator("#join-toggle").click()
        await page.get_by_label("Name").fill("周工")
        await page.locator("select[name=stakeholder]").select_option("design")
        await page.locator("#join-form button[type=submit]").click()
        # The joined panel says which stakeholder group the viewer registered in.
        await page.wait_for_selector("#you-panel:not([hidden])", timeout=WAIT_MS)
        assert "design institute" in (await page.locator("#you-panel").inner_text()).lower()

        # The topic picker starts afresh after sending: an off-topic next question is not tagged #卫生间.
        box = page.get_by_label("Your question")
        await box.fill("卫生间防水层施工后需要闭水试验多久？")
        await page.locator("#ask-topic").select_option("卫生间")
        await page.get_by_role("button", name="Send question").click()
        feedback = page.locator("#ask-feedback")
        await page.wait_for_selector("text=Sent. It will appear once a moderator approves it.", timeout=WAIT_MS)
        assert await page.locator("#ask-topic").input_value() == ""
        first = next(q for q in (await http.get(f"{api}/questions", headers=mod)).json()["questions"])
        assert first["topic"] == "卫生间"

        # Asked too soon: the button counts down, then sending works again with the text kept.
        await box.fill("外墙开裂由谁负责维修？")
        await page.get_by_role("button", name="Send question").click()
        await page.wait_for_selector("#ask-submit:disabled:text-matches('Send in \\\\d+ s')", timeout=WAIT_MS)
        await page.wait_for_selector("#ask-submit:enabled:text('Send question')", timeout=WAIT_MS)
        assert "You can send now" in await feedback.inner_text()
        assert await box.input_value() == "外墙开裂由谁负责维修？"

        # Moderation decides the first question: the "sent, waiting" line goes; notices never stack.
        act = f"{api}/questions/{first['id']}/actions"
        for action in ("approve", "answering", "answered"):
            assert (await http.post(act, json={"action": action}, headers=mod)).status_code == 200
        await page.wait_for_selector(".toast >> text=Your question has been answered.", timeout=WAIT_MS)
        assert await page.locator(".toast").count() == 1
        # The line under the form tells the question's fate, no longer "sent, waiting for review".
        assert await feedback.inner_text() == "Your question has been answered."

        await page.get_by_role("button", name="Send question").click()
        await page.wait_for_selector("text=Sent. It will appear once a moderator approves it.", timeout=WAIT_MS)
        # The event ends with that question still waiting: the line would promise a review that will not come.
        for state in ("live", "ended"):
            assert (await http.post(f"{api}/state", json={"state": state}, headers=ADMIN)).status_code == 200
        await page.wait_for_selector("#ask-feedback", state="hidden", timeout=WAIT_MS)
        await page.screenshot(path=screenshot_path("viewer-ended-feedback-en"), full_page=True)
        await context.close()
