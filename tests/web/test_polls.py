"""Polls and a quiz in a real browser, in Chinese and English: staff prepare and launch in the moderator
console, viewers answer on the event page (phone and desktop), results update live on every page and on
the present view; a quiz question tells the viewer whether they were right."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


async def make_event(http: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    slug = unique_slug("poll")
    made = await http.post(
        "/api/v1/events",
        json={
            "slug": slug,
            "title_zh": "住宅工程质量提升宣贯会",
            "title_en": "Residential quality briefing",
            "kind": "briefing",
        },
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    mod = (await http.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)).json()
    return slug, mod


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_poll_and_a_quiz_end_to_end(browser: Any, page_server: LiveServer, lang: str) -> None:
    zh = lang == "zh-CN"
    base = page_server.base_url
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        slug, mod = await make_event(http)
        mod_ctx = await browser.new_context(locale=lang, viewport={"width": 1440, "height": 1000})
        phone_ctx = await browser.new_context(
            locale=lang, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        room_ctx = await browser.new_context(locale=lang, viewport={"width": 1920, "height": 1080})
        try:
            console = await mod_ctx.new_page()
            console.on("pageerror", lambda e: errors.append(str(e)))
            await console.goto(mod["url"])
            phone = await phone_ctx.new_page()
            phone.on("pageerror", lambda e: errors.append(str(e)))
            await phone.goto(f"{base}/e/{slug}")
            room = await room_ctx.new_page()
            room.on("pageerror", lambda e: errors.append(str(e)))
            await room.goto(f"{base}/e/{slug}/present")
            await room.wait_for_selector(".present-idle", timeout=WAIT_MS)

            # The question being answered fills the present view with its asker's organisation and group.
            staff = {"Authorization": f"Bearer {mod['token']}"}
            asker = (
                await http.post(
                    f"/api/v1/events/{slug}/join",
                    json={"name": "王工", "organisation": "深圳某建设集团", "stakeholder": "owner"},
                )
            ).json()
            asked = await http.post(
                f"/api/v1/events/{slug}/questions",
                json={"text": "预看房发现渗漏由谁负责整改？"},
                headers={"Authorization": f"Bearer {asker['token']}"},
            )
            qid = asked.json()["id"]
            for action in ("approve", "answering"):
                acted = await http.post(
                    f"/api/v1/events/{slug}/questions/{qid}/actions", json={"action": action}, headers=staff
                )
                assert acted.status_code == 200, acted.text
            await room.get_by_role("heading", name="预看房发现渗漏由谁负责整改？").wait_for(timeout=WAIT_MS)
            meta = await room.locator(".present-question .present-meta").inner_text()
            assert "深圳某建设集团" in meta and ("建设单位" if zh else "Owner / developer") in meta
            await room.screenshot(path=screenshot_path(f"present-question-{lang}"))

            # Staff prepare a single-choice poll in the console, then launch it.
            await console.get_by_text("新建投票" if zh else "New poll").click()
            form = console.locator("#poll-form")
            await form.get_by_label("题目" if zh else "Question", exact=True).fill("最常见的质量通病是？")
            await form.get_by_label("选项（每行一个）" if zh else "Options (one per line)").fill("渗漏\n开裂\n空鼓")
            await form.get_by_role("button", name="保存草稿" if zh else "Save draft").click()
            card = console.locator("#polls-staff-list .poll-card").first
            await card.get_by_text("草稿" if zh else "Draft").wait_for(timeout=WAIT_MS)
            await card.get_by_role("button", name="发布" if zh else "Launch").click()

            # The viewer's phone shows it; they answer without registering (an open event).
            await phone.get_by_role("heading", name="最常见的质量通病是？").wait_for(timeout=WAIT_MS)
            await phone.get_by_label("开裂").check()
            await phone.get_by_role("button", name="提交答案" if zh else "Submit answer").click()
            await phone.get_by_text("1 人作答" if zh else "1 responses").wait_for(timeout=WAIT_MS)
            await phone.screenshot(path=screenshot_path(f"poll-viewer-{lang}-phone"), full_page=True)
            # Live results on the console and big on the present view.
            await console.locator("#polls-staff-list [data-responses='1']").wait_for(timeout=WAIT_MS)
            await room.locator(".present-poll [data-responses='1']").wait_for(timeout=WAIT_MS)
            assert "100%" in await room.locator(".present-poll .poll-bar").nth(1).inner_text()
            await room.screenshot(path=screenshot_path(f"present-poll-{lang}"))
            await console.screenshot(path=screenshot_path(f"poll-console-{lang}"), full_page=True)
            await card.get_by_role("button", name="结束" if zh else "Close").click()
            await phone.locator(".poll-card.state-closed").wait_for(timeout=WAIT_MS)

            # A quiz question (prepared through the API), launched; the viewer registers and is told they were right.
            quiz = await http.post(
                f"/api/v1/events/{slug}/polls",
                json={
                    "kind": "single",
                    "prompt": "预看房由谁组织？",
                    "options": ["建设单位", "监理单位"],
                    "quiz": True,
                    "correct": [0],
                },
                headers={"Authorization": f"Bearer {mod['token']}"},
            )
            assert quiz.status_code == 201, quiz.text
            await (
                console.locator(f'#polls-staff-list [data-poll="{quiz.json()["id"]}"]')
                .get_by_role("button", name="发布" if zh else "Launch")
                .click()
            )
            await phone.get_by_role("heading", name="预看房由谁组织？").wait_for(timeout=WAIT_MS)
            quiz_card = phone.locator(f'[data-poll="{quiz.json()["id"]}"]')
            await quiz_card.get_by_role("radio", name="建设单位").check()
            submit = quiz_card.get_by_role("button", name="提交答案" if zh else "Submit answer")
            await submit.click()
            await phone.get_by_text(
                "测验计入培训记录，请先填写姓名登记"
                if zh
                else "The quiz counts for training: register with your name first"
            ).wait_for(timeout=WAIT_MS)
            await phone.get_by_label("姓名" if zh else "Name").fill("陈工")
            await phone.locator("#join-form").get_by_role("button").click()
            await phone.locator("#you-panel:not([hidden])").wait_for(timeout=WAIT_MS)
            await submit.click()
            await quiz_card.get_by_text("回答正确" if zh else "Correct").wait_for(timeout=WAIT_MS)
            await phone.screenshot(path=screenshot_path(f"quiz-viewer-{lang}-phone"), full_page=True)

            # The event ends: the phone is offered the satisfaction survey, once.
            for state in ("live", "ended"):
                changed = await http.post(f"/api/v1/events/{slug}/state", json={"state": state}, headers=ADMIN)
                assert changed.status_code == 200, changed.text
            survey = phone.locator("#survey-panel")
            await survey.get_by_role("heading", name="满意度调查" if zh else "Satisfaction survey").wait_for(
                timeout=WAIT_MS
            )
            overall = "总体满意度" if zh else "Overall satisfaction"
            useful = "内容实用性" if zh else "Usefulness"
            stars = "5 星" if zh else "5 stars"
            await survey.get_by_label(f"{overall}: {stars}").check(force=True)
            await survey.get_by_label(f"{useful}: {'4 星' if zh else '4 stars'}").check(force=True)
            await survey.get_by_role("button", name="提交" if zh else "Submit").click()
            await survey.get_by_text("感谢参与满意度调查！" if zh else "Thank you for taking the survey!").wait_for(
                timeout=WAIT_MS
            )

            # Someone who watches the recording takes the quiz on the archive page after registering.
            later = await phone_ctx.browser.new_context(locale=lang, viewport={"width": 1280, "height": 900})
            archive = await later.new_page()
            archive.on("pageerror", lambda e: errors.append(str(e)))
            await archive.goto(f"{base}/e/{slug}/archive")
            quiz_panel = archive.locator("#archive-quiz")
            await quiz_panel.get_by_role("heading", name="预看房由谁组织？").wait_for(timeout=WAIT_MS)
            await quiz_panel.get_by_role("radio", name="监理单位").check()
            await quiz_panel.get_by_role("button", name="提交答案" if zh else "Submit answer").click()
            await quiz_panel.get_by_label("姓名" if zh else "Name").fill("吴工")
            await quiz_panel.locator("#archive-join").get_by_role("button").click()
            await quiz_panel.locator("#archive-join[hidden]").wait_for(state="attached", timeout=WAIT_MS)
            await quiz_panel.get_by_role("radio", name="监理单位").check()
            await quiz_panel.get_by_role("button", name="提交答案" if zh else "Submit answer").click()
            await quiz_panel.get_by_text("回答错误" if zh else "Not quite").wait_for(timeout=WAIT_MS)
            score = "得分 0%（0/1） · 未通过（及格线 60%）" if zh else "Score 0% (0/1) · Not passed (pass mark 60%)"
            await quiz_panel.get_by_text(score).wait_for(timeout=WAIT_MS)
            await archive.locator("#survey-panel:not([hidden])").wait_for(timeout=WAIT_MS)
            await archive.screenshot(path=screenshot_path(f"archive-quiz-{lang}"), full_page=True)
            await later.close()
        finally:
            await mod_ctx.close()
            await phone_ctx.close()
            await room_ctx.close()
    assert errors == []
