"""The archive page and search in a real browser, in both languages: the player opens at the moment a
link names (?q=, ?t=), the transcript seeks and follows playback, search leads to the moment."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.archive.recordings import Session, compose, record, requires_tools, write_wav
from tests.conftest import ADMIN
from tests.server.test_archive import archived
from tests.server.test_questions import Party
from tests.support import LiveServer, wait_for
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.media, requires_tools]

UTTERANCES = (
    "Please check the settlement monitoring data every morning.",
    "Stop the excavation if the cracks in the nearby building grow wider.",
    "The shield tunnel passes under the metro line.",
)


@pytest.fixture
async def archived_event(server: LiveServer, client: httpx.AsyncClient, tmp_path: Path) -> dict[str, Any]:
    party = await Party.create(client, title_en="Foundation pit Q&A")
    samples, marks = compose(UTTERANCES)
    seconds = len(samples) / 16_000
    wav = write_wav(tmp_path / "speech.wav", samples)
    question = (await party.ask(await party.viewer(), "基坑开挖引起的沉降如何控制？")).json()["id"]
    other = (await party.ask(await party.viewer("Li Gong"), "How close to a metro tunnel may we dig?")).json()["id"]
    for qid in (question, other):
        await party.act(party.mod, qid, "approve")
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    # The expert starts answering about 6 s into the recording.
    captured_at = time.time() - 6.0
    record(
        Path(server.settings.media_dir) / party.slug, [Session(0, seconds, 0.25, captured_at)], wav, seconds, tmp_path
    )
    await party.act(party.expert, question, "answering")
    await party.act(party.expert, question, "answered", answer_text="分层开挖，沉降超过预警值立即停止。")
    await party.act(party.expert, other, "answered", answer_text="Outside the protection zone, with monitoring.")
    await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    data = await archived(client, party.slug)
    return {"slug": party.slug, "question": question, "data": data, "marks": marks}


async def current_time(page: Any) -> float:
    return float(await page.evaluate("document.getElementById('vod').currentTime"))


@pytest.mark.parametrize(
    ("locale", "heading", "jump"),
    [("zh-CN", "问答", "观看回答"), ("en-US", "Questions and answers", "Watch the answer")],
)
async def test_archive_page_seeks_and_follows_in_both_languages(
    browser: Any,
    server: LiveServer,
    client: httpx.AsyncClient,
    archived_event: dict[str, Any],
    locale: str,
    heading: str,
    jump: str,
) -> None:
    slug, qid, data = archived_event["slug"], archived_event["question"], archived_event["data"]
    chapter = next(c for c in data["chapters"] if c["question_id"] == qid)
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server.base_url) else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The report links here with ?q=: the player waits at the moment the answer began.
    await page.goto(f"{server.base_url}/e/{slug}/archive?q={qid}")
    await page.wait_for_function("document.getElementById('vod').readyState >= 1", timeout=20_000)
    await page.wait_for_function(f"Math.abs(document.getElementById('vod').currentTime - {chapter['start']}) < 0.5")
    assert await page.locator(f"#q{qid}").get_attribute("class") == "qa-item current"
    assert await page.get_by_role("heading", name=heading).is_visible()

    # Watching the archive counts as replay attendance (attendance.js): a replay span for this browser.
    async def replay_span() -> bool:
        await server.app.state.ctx.attendance.flush()
        spans = await client.get(
            f"/api/v1/events/{slug}/attendance.csv", params={"detail": "spans", "lang": "en"}, headers=ADMIN
        )
        return spans.status_code == 200 and "Replay" in spans.text

    await wait_for(replay_span, 15, interval=0.3, message="a replay attendance span")
    tracks = await page.evaluate("[...document.getElementById('vod').textTracks].map(t => t.kind)")
    assert sorted(tracks) == ["captions", "chapters"]

    # A transcript line seeks; playback moves the highlight along.
    lines = page.locator("#transcript .line")
    assert await lines.count() == len(UTTERANCES)
    await page.evaluate("document.getElementById('vod').muted = true")
    await lines.nth(1).click()
    start = float(await lines.nth(1).get_attribute("data-start") or 0)
    await page.wait_for_function(f"document.getElementById('vod').currentTime >= {start}")
    await page.wait_for_selector("#transcript .line.current")
    assert "excavation" in (await page.locator("#transcript .line.current").inner_text()).lower()
    assert f"t={start:.1f}" in page.url
    await page.evaluate("document.getElementById('vod').pause(); window.scrollTo(0, 0)")
    await page.screenshot(path=screenshot_path(f"archive-page-{locale}"), full_page=True)

    # ?t= opens at that moment; the Q&A link of the other question too.
    await page.goto(f"{server.base_url}/e/{slug}/archive?t=12.5")
    await page.wait_for_function("Math.abs(document.getElementById('vod').currentTime - 12.5) < 0.3", timeout=20_000)
    assert await page.get_by_role("link", name=jump).count() == 2
    assert external == [] and errors == []
    await context.close()


@pytest.mark.parametrize(("locale", "button", "count"), [("zh-CN", "搜索", "条结果"), ("en-US", "Search", "results")])
async def test_search_finds_chinese_without_spaces_and_leads_to_the_moment(
    browser: Any, server: LiveServer, archived_event: dict[str, Any], locale: str, button: str, count: str
) -> None:
    slug = archived_event["slug"]
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{server.base_url}/")
    await page.locator("header nav a[href='/search']").click()
    await page.locator("#q").fill("沉降")
    await page.get_by_role("button", name=button).click()
    await page.wait_for_selector("#result-count")
    assert count in await page.locator("#result-count").inner_text()
    result = page.locator(f".result:has(a[href^='/e/{slug}/archive?t='])").first
    assert await result.locator("mark").first.inner_text() == "沉降"
    await page.screenshot(path=screenshot_path(f"search-{locale}"), full_page=True)
    await result.locator(".result-text a").click()
    await page.wait_for_url(f"**/e/{slug}/archive?t=*")
    await page.wait_for_function("document.getElementById('vod').readyState >= 1", timeout=20_000)
    assert errors == []
    await context.close()
