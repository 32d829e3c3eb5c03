"""Attendance as the report counts it, from real browsers: one person is one viewer, a scheduled event's
pages are no audience, and an ended event's visits are not "still watching"."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer, live_server, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


@pytest.fixture
async def quick_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """Attendance written every 0.2 s, so the report sees a browser's visit without waiting 10 s."""
    from server.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'att.db'}"
    upgrade(url)
    async with live_server(
        database_url=url,
        media_dir=tmp_path / "media",
        attendance_flush_seconds=0.2,
        attendance_grace_seconds=0.5,
    ) as server:
        yield server


async def _event(c: httpx.AsyncClient, *states: str) -> str:
    slug = unique_slug("att")
    made = await c.post("/api/v1/events", headers=ADMIN, json={"slug": slug, "title_zh": "基坑答疑"})
    assert made.status_code == 201, made.text
    for state in states:
        assert (await c.post(f"/api/v1/events/{slug}/state", json={"state": state}, headers=ADMIN)).status_code == 200
    return slug


async def _spans(c: httpx.AsyncClient, slug: str) -> list[list[str]]:
    r = await c.get(f"/api/v1/events/{slug}/attendance.csv?detail=spans&lang=en", headers=ADMIN)
    assert r.status_code == 200
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]


async def test_a_viewer_who_registers_after_watching_anonymously_is_one_viewer(
    browser: Any, quick_server: LiveServer
) -> None:
    base = quick_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        slug = await _event(c, "live")
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        await page.goto(f"{base}/e/{slug}")
        await wait_for(lambda: _has(c, slug, "v:"), 10, 0.1, "the anonymous visit's span")
        await page.locator("#join-toggle").click()
        await page.get_by_label("Name").fill("王工")
        await page.get_by_label("Organisation").fill("深圳地铁集团")
        await page.locator("select[name=stakeholder]").select_option("owner")
        await page.locator("#join-form button[type=submit]").click()
        await page.wait_for_selector("#you-panel:not([hidden])", timeout=WAIT_MS)
        await wait_for(lambda: _has(c, slug, "p:"), 10, 0.1, "the registered visit's span")

        report = (await c.get(f"/api/v1/events/{slug}/report", headers=ADMIN)).json()
        attendance = report["attendance"]
        assert attendance["live_viewers"] == 1, attendance  # not 2: the anonymous visit was theirs
        owner = next(g for g in attendance["by_stakeholder"] if g["stakeholder"] == "owner")
        assert owner["live_viewers"] == 1

        # The event ends while the page is still open: its visit ended with the event.
        assert (await c.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=ADMIN)).is_success
        rows = await _spans(c, slug)
        assert rows and all(row[5] != "still watching" for row in rows), rows
        await context.close()


async def test_visits_to_a_scheduled_event_are_neither_live_nor_replay_viewers(
    browser: Any, quick_server: LiveServer
) -> None:
    base = quick_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        slug = await _event(c)
        context = await browser.new_context(locale="zh-CN")
        page = await context.new_page()
        await page.goto(f"{base}/e/{slug}")
        archive = await context.new_page()
        await archive.goto(f"{base}/e/{slug}/archive")
        await wait_for(lambda: _has(c, slug, "v:"), 10, 0.1, "the visit's span")
        attendance = (await c.get(f"/api/v1/events/{slug}/report", headers=ADMIN)).json()["attendance"]
        assert (attendance["live_viewers"], attendance["replay_viewers"], attendance["live_minutes"]) == (0, 0, 0)
        assert attendance["peak_concurrent"] == 0
        # No recording, so the archive page does not count as watching the replay at all.
        assert all(row[3] != "replay" for row in await _spans(c, slug))
        await context.close()


async def _has(c: httpx.AsyncClient, slug: str, prefix: str) -> bool:
    return any(row[0].startswith(prefix) for row in await _spans(c, slug))
