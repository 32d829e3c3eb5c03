"""The optional e-mail at registration: with SMTP_URL the certificate is mailed when the event ends (to a
local SMTP sink, never the internet); without it the form has no e-mail field and says nothing is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from server.attendance import AttendanceRecorder
from server.db.models import Event, Participant
from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer, free_port, live_server, wait_for
from tests.web.conftest import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000


class Sink:
    """Collects every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
async def mail_server(tmp_path: Path, smtp: tuple[Sink, int]) -> AsyncIterator[LiveServer]:
    from server.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}"
    upgrade(url)
    async with live_server(
        database_url=url,
        media_dir=tmp_path / "media",
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        mail_from="cert@bureau.test",
    ) as server:
        yield server


async def _training_event(base: str) -> str:
    slug = unique_slug("mail")
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        made = await c.post(
            "/api/v1/events",
            headers=ADMIN,
            json={"slug": slug, "title_zh": "住宅工程质量提升举措宣贯会", "title_en": "Residential quality briefing"},
        )
        assert made.status_code == 201, made.text
        assert (await c.patch(f"/api/v1/events/{slug}", json={"training_min_minutes": 1}, headers=ADMIN)).is_success
        assert (await c.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)).is_success
    return slug


async def test_certificate_is_mailed_at_the_end_to_the_address_given_at_registration(
    browser: Any, mail_server: LiveServer, smtp: tuple[Sink, int]
) -> None:
    sink, _ = smtp
    base = mail_server.base_url
    slug = await _training_event(base)
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(f"{base}/e/{slug}")
    await page.locator("#join-toggle").click()
    await page.get_by_label("Name").fill("王工")
    await page.get_by_label("E-mail").fill("wang@example.test")
    await page.locator("#join-form button[type=submit]").click()
    await page.wait_for_selector("#you-panel:not([hidden])", timeout=WAIT_MS)

    # Two minutes of watching, as the recorder writes it (a browser would need those two minutes).
    ctx = mail_server.app.state.ctx
    now = datetime.now(UTC)
    async with ctx.db.session() as session:
        event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one()
        person = (await session.execute(select(Participant).where(Participant.event_id == event.id))).scalar_one()
        assert person.email == "wang@example.test"
        await session.execute(update(Event).where(Event.id == event.id).values(went_live_at=now - timedelta(minutes=3)))
        await session.commit()
    # (Another process's recorder: this one already holds the open tab's span of the same viewer.)
    other = AttendanceRecorder(ctx.db, flush_seconds=60, grace_seconds=0)
    key = other.joined(event.id, person.id, None, "live", at=now - timedelta(minutes=2))
    other.left(key, at=now)
    await other.close()

    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        assert (await c.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=ADMIN)).is_success
    await wait_for(lambda: sink.messages, 15, 0.05, "the certificate e-mail")
    mail = sink.messages[0]
    assert mail["To"] == "wang@example.test" and mail["From"] == "cert@bureau.test"
    body = mail.get_payload(decode=True).decode()
    assert "Residential quality briefing" in str(mail["Subject"]) or "Certificate" in str(mail["Subject"])
    assert f"{base}/certificates/" in body and "王工" in body
    assert len(sink.messages) == 1
    await context.close()


async def test_without_smtp_the_form_says_nothing_is_mailed(browser: Any, page_server: LiveServer) -> None:
    slug = await _training_event(page_server.base_url)
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{page_server.base_url}/e/{slug}")
    await page.locator("#join-toggle").click()
    assert await page.locator("#join-form input[name=email]").count() == 0
    assert "本站未开启邮件发送" in await page.locator("#join-no-email").inner_text()
    await page.screenshot(path=screenshot_path("viewer-join-no-email-zh-CN"), full_page=True)
    # An address sent anyway is not kept: nothing would ever use it.
    async with httpx.AsyncClient(base_url=page_server.base_url) as c:
        joined = await c.post(f"/api/v1/events/{slug}/join", json={"name": "李工", "email": "li@example.test"})
        assert joined.status_code == 201
    async with page_server.app.state.ctx.db.session() as session:
        emails = (await session.execute(select(Participant.email).where(Participant.name == "李工"))).scalars().all()
    assert emails == [None]
    await context.close()
