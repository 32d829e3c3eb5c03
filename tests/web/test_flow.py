"""The whole flow in three browser contexts: expert goes live with the fake camera, a viewer watches,
registers and asks, the moderator approves, the viewer votes, the expert answers; the viewer's connection
drops and comes back without losing an update; the event ends and the viewer is sent to the archive."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer, free_port
from tests.web.conftest import screenshot_path
from tests.web.proxy import CuttableProxy

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.media]

# Media needs ICE, DTLS and a few HLS segments: generous, but every wait ends as soon as it is true.
MEDIA_WAIT_MS = 30_000
WAIT_MS = 15_000
XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_ORG = "<script>window.__xss=2</script>设计院"
XSS_QUESTION = '基坑降水对邻近地铁隧道有何影响？<img src=x onerror="window.__xss=3">'
XSS_ANSWER = "控制降深并加密监测。<script>window.__xss=4</script>"


@pytest.fixture
async def proxy(page_server: LiveServer) -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy(page_server.settings.port, free_port())
    await p.start()
    yield p
    await p.close()


async def ask_as(base: str, slug: str, name: str, organisation: str, stakeholder: str, text: str) -> int:
    """Another participant joins and asks over the API; returns the question id."""
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        joined = await api.post(
            f"/api/v1/events/{slug}/join", json={"name": name, "organisation": organisation, "stakeholder": stakeholder}
        )
        asked = await api.post(
            f"/api/v1/events/{slug}/questions",
            json={"text": text},
            headers={"Authorization": f"Bearer {joined.json()['token']}"},
        )
        assert asked.status_code == 201, asked.text
        return int(asked.json()["id"])


def watch_page(page: Any, errors: list[str], confirm: bool = False) -> None:
    """Record page errors; a dialog is an error (an injected alert) unless the page asks to confirm."""
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    if confirm:
        page.on("dialog", lambda d: d.accept() if d.type == "confirm" else errors.append(f"dialog: {d.message}"))
    else:
        page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))


async def test_expert_viewer_moderator_flow_with_a_dropped_connection(
    browser: Any, page_server: LiveServer, proxy: CuttableProxy
) -> None:
    base = page_server.base_url
    slug = unique_slug("flow")
    async with httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=20) as api:
        made = await api.post(
            "/api/v1/events",
            json={
                "slug": slug,
                "title_zh": "地下工程施工扰动安全防范直播答疑",
                "title_en": "Live Q&A: underground construction disturbance",
                "topics": ["基坑", "降水", "轨道交通保护"],
                "join_policy": "registration",
                "moderation_mode": "pre",
            },
        )
        assert made.status_code == 201, made.text
        invites = f"/api/v1/events/{slug}/invites"
        expert_url = (await api.post(invites, json={"role": "expert", "name": "张专家"})).json()
        mod_url = (await api.post(invites, json={"role": "moderator", "name": "李主持"})).json()

    errors: list[str] = []
    expert_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 960})
    mod_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 960})
    viewer_ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        # 1. The expert opens the invite link, sees the fake camera, goes live.
        expert = await expert_ctx.new_page()
        watch_page(expert, errors, confirm=True)
        await expert.goto(expert_url["url"])
        await expert.wait_for_url(f"**/e/{slug}/studio")
        await expert.wait_for_function("() => document.querySelector('#preview').videoWidth > 0", timeout=WAIT_MS)
        await expert.get_by_role("button", name="开始直播").click()
        await expert.wait_for_selector('#onair[data-state="live"]', timeout=MEDIA_WAIT_MS)
        # The low-latency monitor (WHEP) shows the expert what goes out.
        await expert.wait_for_function(
            "() => { const v = document.querySelector('#monitor'); return v.videoWidth > 0 && v.currentTime > 0.3; }",
            timeout=MEDIA_WAIT_MS,
        )

        # 2. The viewer (through a proxy we can cut) sees the video play.
        viewer = await viewer_ctx.new_page()
        watch_page(viewer, errors)
        sent: list[dict[str, Any]] = []
        received: list[dict[str, Any]] = []

        def on_socket(ws: Any) -> None:
            ws.on("framesent", lambda payload: sent.append(json.loads(payload)))
            ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

        viewer.on("websocket", on_socket)
        fetched: list[str] = []
        viewer.on("request", lambda request: fetched.append(request.url))
        await viewer.goto(f"{proxy.url}/e/{slug}")
        await viewer.wait_for_function(
            "() => { const v = document.querySelector('#video'); return v.currentTime > 1 && !v.paused; }",
            timeout=MEDIA_WAIT_MS,
        )
        # (A moment at the live edge may wait for the next part: the badge shows while it plays.)
        await viewer.wait_for_selector(".player-live", state="visible", timeout=WAIT_MS)
        # Chromium plays through hls.js, low-latency: blocking playlist reloads and ~0.33 s parts (000012.1.ts),
        # and no cache-buster, so a cache in front answers every viewer from one request.
        assert await viewer.evaluate("document.querySelector('#video').src.startsWith('blob:')")
        assert any("_HLS_msn=" in url and "_HLS_part=" in url for url in fetched), fetched
        assert any(re.search(r"/\d{6}\.\d+\.ts$", url) for url in fetched), fetched
        assert not any("index.m3u8?t=" in url for url in fetched)
        # Browsers' native HLS (Safari, iOS; Chromium's when forced) plays the same playlists, whole segments.
        native = await viewer_ctx.new_page()
        watch_page(native, errors)
        await native.goto(f"{proxy.url}/e/{slug}?player=native")
        await native.wait_for_function(
            "() => { const v = document.querySelector('#video');"
            " return v.currentTime > 1 && v.src.endsWith('/master.m3u8'); }",
            timeout=MEDIA_WAIT_MS,
        )
        await native.close()

        # The expert shares the screen (a second WHIP session): viewers get the slides big, the camera small.
        await expert.get_by_role("button", name="共享屏幕").click()
        await viewer.wait_for_selector("#player.with-screen", timeout=MEDIA_WAIT_MS)
        await viewer.wait_for_function(
            "() => { const v = document.querySelector('#screen-video'); return v.currentTime > 0.5 && !v.paused; }",
            timeout=MEDIA_WAIT_MS,
        )
        await viewer.screenshot(path=screenshot_path("flow-viewer-screen-share-en"))
        await expert.get_by_role("button", name="停止共享").click()
        await viewer.wait_for_selector("#player:not(.with-screen)", timeout=WAIT_MS)

        # 3. It registers (this event asks for it) and asks; the page says it waits for a moderator.
        assert await viewer.get_by_role("heading", name="Register to take part").is_visible()
        await viewer.get_by_label("Name").fill(XSS_NAME)
        await viewer.get_by_label("Organisation").fill(XSS_ORG)
        await viewer.get_by_label("Stakeholder group").select_option("design")
        await viewer.get_by_role("button", name="Join").click()
        await viewer.wait_for_selector("#you-panel:not([hidden])")
        assert await viewer.locator("#you-name").inner_text() == XSS_NAME
        await viewer.get_by_label("Your question").fill(XSS_QUESTION)
        assert await viewer.locator("#ask-count").inner_text() == f"{len(XSS_QUESTION)} / 500"
        await viewer.get_by_role("button", name="Send question").click()
        await viewer.wait_for_selector("text=It will appear once a moderator approves it")
        await viewer.screenshot(path=screenshot_path("flow-viewer-asked-en"), full_page=True)

        # Another participant asks too (over the API), so the viewer has someone else's question to vote for.
        other_q = await ask_as(
            base, slug, "王工", "某施工单位", "construction", "盾构下穿既有线路时的沉降控制值是多少？"
        )

        # 4. The moderator sees who asked and approves both with the keyboard: J to the first card, A, A.
        moderator = await mod_ctx.new_page()
        watch_page(moderator, errors)
        await moderator.goto(mod_url["url"])
        await moderator.wait_for_url(f"**/e/{slug}/moderate")
        card = moderator.locator("#review-list .mcard").first
        await card.wait_for(timeout=WAIT_MS)
        assert await moderator.locator("#review-list .mcard").count() == 2
        assert await card.locator(".q-text").inner_text() == XSS_QUESTION
        who = await card.locator(".who").inner_text()
        assert XSS_ORG in who and "设计单位" in who
        await moderator.locator("body").press("j")
        await moderator.keyboard.press("a")
        await moderator.wait_for_selector("#queue-list .mcard", timeout=WAIT_MS)
        await moderator.keyboard.press("a")
        await moderator.wait_for_function("() => document.querySelectorAll('#queue-list .mcard').length === 2")
        assert await moderator.locator("#n-pending").inner_text() == "0"
        await moderator.screenshot(path=screenshot_path("flow-moderator-zh-CN"), full_page=True)

        # 5. The viewer is told, sees both in the queue, and votes for the other one (not its own).
        mine = viewer.locator("#queue-list li.mine")
        await mine.wait_for(timeout=WAIT_MS)
        assert await mine.locator(".q-text").inner_text() == XSS_QUESTION
        assert await mine.locator(".vote").is_disabled()
        await viewer.wait_for_selector("text=Your question was approved", timeout=WAIT_MS)
        other = viewer.locator(f'#queue-list li[data-id="{other_q}"]')
        await other.get_by_role("button", name="Vote for this question (0 votes)").click()
        await viewer.wait_for_selector(
            f'#queue-list li[data-id="{other_q}"] .vote[aria-pressed="true"] >> text=1', timeout=WAIT_MS
        )
        # Popular puts the voted question first.
        assert await viewer.locator("#queue-list li.q").first.get_attribute("data-id") == str(other_q)

        # 6. The expert starts answering the viewer's question (picked by id: the studio's queue follows the
        #    moderators' ranking, so the vote above may already have moved the other question first).
        mine_id = await mine.get_attribute("data-id")
        await expert.locator(f'#queue-list [data-id="{mine_id}"] [data-role="answering"]').click()
        await viewer.wait_for_selector("#now-answering:not([hidden])", timeout=WAIT_MS)
        assert await viewer.locator("#now-answering .now-text").inner_text() == XSS_QUESTION
        await viewer.wait_for_selector("#queue-list li.status-answering", timeout=WAIT_MS)
        await expert.screenshot(path=screenshot_path("flow-studio-zh-CN"), full_page=True)
        await viewer.screenshot(path=screenshot_path("flow-viewer-answering-en"), full_page=True)

        # 7. ... and marks it answered with a typed answer; the viewer finds it under Answered.
        await expert.locator("#answer-text").fill(XSS_ANSWER)
        await expert.locator('#now-box [data-role="answered"]').click()
        await viewer.wait_for_selector("#now-answering[hidden]", state="attached", timeout=WAIT_MS)
        await viewer.get_by_role("tab", name="Answered").click()
        answer = viewer.locator("#queue-list .answer-text").first
        await answer.wait_for(timeout=WAIT_MS)
        assert await answer.inner_text() == XSS_ANSWER

        # 8. The viewer's connection drops. Meanwhile another question is approved and answered live.
        await viewer.get_by_role("tab", name="Popular").click()
        hellos_before = len([m for m in sent if m.get("type") == "hello"])
        await proxy.cut()
        await viewer.wait_for_selector("#conn-banner:not([hidden])", timeout=WAIT_MS)
        assert "reconnecting" in (await viewer.locator("#conn-banner").inner_text()).lower()
        third = await ask_as(base, slug, "陈女士", "业主代表", "public", "老旧小区旁边开挖基坑，居民应注意什么？")
        await moderator.locator(f'#review-list [data-id="{third}"] [data-role="approve"]').click()
        await expert.locator(f'#queue-list [data-id="{other_q}"] [data-role="answering"]').click()
        await expert.wait_for_selector(f'#now-box [data-id="{other_q}"]', timeout=WAIT_MS)
        snapshots_before = len([m for m in received if m.get("type") == "snapshot"])
        await viewer.screenshot(path=screenshot_path("flow-viewer-reconnecting-en"), full_page=True)
        await proxy.restore()
        await viewer.wait_for_selector("#conn-banner", state="hidden", timeout=WAIT_MS)
        await viewer.wait_for_function(
            "() => document.querySelector('#now-answering .now-text').textContent.includes('盾构下穿')", timeout=WAIT_MS
        )
        await viewer.wait_for_selector(f'#queue-list li[data-id="{third}"]', timeout=WAIT_MS)
        # It resumed from its last id (a replay of what it missed), not from a fresh snapshot.
        hellos = [m for m in sent if m.get("type") == "hello"][hellos_before:]
        assert hellos and all(isinstance(h["last_id"], int) for h in hellos), hellos
        assert len([m for m in received if m.get("type") == "snapshot"]) == snapshots_before
        # The video comes back too.
        await viewer.wait_for_function(
            "() => { const v = document.querySelector('#video'); return v.currentTime > 0 && !v.paused; }",
            timeout=MEDIA_WAIT_MS,
        )

        # 9. The expert ends the event: the viewer is pointed to the archive.
        await expert.get_by_role("button", name="结束活动").click()
        link = viewer.get_by_role("link", name="Watch the recording")
        await link.wait_for(timeout=WAIT_MS)
        assert await link.get_attribute("href") == f"/e/{slug}/archive"
        assert await viewer.locator("#ask-text").is_disabled()

        # No user text ever ran as markup, and no page threw.
        for page in (expert, moderator, viewer):
            assert await page.evaluate("() => window.__xss") is None
        assert errors == []
    finally:
        for ctx in (expert_ctx, mod_ctx, viewer_ctx):
            await ctx.close()
