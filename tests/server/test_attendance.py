"""Attendance recording: tabs and reconnects are one span, replay is its own mode, writes come in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from server.attendance import AttendanceRecorder, parse_mode, parse_visitor
from server.db.engine import Database
from server.db.models import AttendanceSpan, Event
from tests.conftest import ADMIN, unique_slug
from tests.support import WsClient, live_server, wait_for

T0 = datetime(2026, 9, 10, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def new_event(db: Database) -> int:
    async with db.session() as session:
        row = Event(slug=unique_slug("att"), kind="briefing", title_zh="宣贯会", topics=[], banned_words=[])
        session.add(row)
        await session.commit()
        return row.id


async def spans(db: Database, event_id: int) -> list[AttendanceSpan]:
    async with db.session() as session:
        rows = await session.execute(
            select(AttendanceSpan).where(AttendanceSpan.event_id == event_id).order_by(AttendanceSpan.id)
        )
        return list(rows.scalars())


def test_mode_and_visitor_parameters_are_checked() -> None:
    assert parse_mode("replay") == "replay" and parse_mode("x") == "live" and parse_mode(None) == "live"
    assert parse_visitor("a1B2c3D4e5") == "a1B2c3D4e5"
    assert parse_visitor("short") is None and parse_visitor("<script>alert(1)</script>") is None


async def test_tabs_and_a_quick_reconnect_are_one_span_and_a_long_gap_is_two(db: Database) -> None:
    event_id = await new_event(db)
    clock = Clock()
    rec = AttendanceRecorder(db, flush_seconds=60, grace_seconds=10, clock=clock)
    tab1 = rec.joined(event_id, None, "visitor-aaaa", "live")
    clock.advance(5)
    tab2 = rec.joined(event_id, None, "visitor-aaaa", "live")
    await rec.flush()
    clock.advance(60)
    rec.left(tab1)
    rec.left(tab2)
    clock.advance(4)  # a reconnect within the grace period
    again = rec.joined(event_id, None, "visitor-aaaa", "live")
    clock.advance(30)
    await rec.flush()
    rows = await spans(db, event_id)
    assert [(r.visitor, r.started_at, r.ended_at, r.seen_at) for r in rows] == [("visitor-aaaa", T0, None, clock.now)]
    rec.left(again)
    left_at = clock.now
    clock.advance(9)
    await rec.flush()  # still inside the grace: open
    assert (await spans(db, event_id))[0].ended_at is None
    clock.advance(1)
    await rec.flush()
    assert [r.ended_at for r in await spans(db, event_id)] == [left_at]
    clock.advance(100)
    later = rec.joined(event_id, None, "visitor-aaaa", "live")
    clock.advance(20)
    rec.left(later)
    await rec.close()  # shutdown writes everything, grace or not
    rows = await spans(db, event_id)
    assert [(r.started_at, r.ended_at) for r in rows] == [
        (T0, left_at),
        (left_at + timedelta(seconds=110), left_at + timedelta(seconds=130)),
    ]


async def test_anonymous_connections_without_a_visitor_id_are_separate_and_modes_are_separate(db: Database) -> None:
    event_id = await new_event(db)
    clock = Clock()
    rec = AttendanceRecorder(db, flush_seconds=60, grace_seconds=10, clock=clock)
    rec.joined(event_id, None, None, "live")
    rec.joined(event_id, None, None, "live")
    rec.joined(event_id, None, "visitor-bbbb", "live")
    rec.joined(event_id, None, "visitor-bbbb", "replay")
    assert rec.open_viewers(event_id) == 4
    await rec.close()
    rows = await spans(db, event_id)
    assert sorted((r.visitor or "-", r.mode) for r in rows) == [
        ("-", "live"),
        ("-", "live"),
        ("visitor-bbbb", "live"),
        ("visitor-bbbb", "replay"),
    ]
    assert all(r.ended_at == T0 for r in rows)
    assert rec.joined(event_id, None, None, "live") is None  # closed: nothing more is recorded


async def test_five_thousand_viewers_cost_one_statement_per_flush(db: Database) -> None:
    """Cheap at 5,000 viewers: connecting and leaving touch no database; a steady flush is one UPDATE. On
    SQLite a flush is one transaction run in one hand-over to its connection's thread (server/db/direct.py)."""
    event_id = await new_event(db)
    clock = Clock()
    rec = AttendanceRecorder(db, flush_seconds=60, grace_seconds=10, clock=clock)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    sqlite = db.direct.dialect == "sqlite"
    if sqlite:  # the writes go on the direct connection: its own trace of what SQLite ran
        conn = await db.direct._sqlite_conn()

        def trace(statement: str) -> None:
            word = statement.split()[0].upper()
            if word in ("INSERT", "UPDATE", "DELETE"):
                statements.append(word)

        await conn.run(lambda c: c.set_trace_callback(trace))
    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        keys = [rec.joined(event_id, None, f"visitor-{i:06d}", "live") for i in range(5000)]
        assert statements == []
        await rec.flush()
        assert "INSERT" in statements and "UPDATE" not in statements
        statements.clear()
        for key in keys[:100]:  # reconnects inside the grace
            rec.left(key)
            rec.joined(event_id, None, key[1][2:], "live")
        clock.advance(15)
        await rec.flush()
        assert statements == ["UPDATE"]
        statements.clear()
        for key in keys[:10]:
            rec.left(key)
        clock.advance(15)
        await rec.flush()
        # Ten spans closed (one executemany through the ORM, ten by id on SQLite's thread), the rest refreshed
        # in one statement: the cost follows who left, never the audience.
        assert statements == ["UPDATE"] * (11 if sqlite else 2)
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        if sqlite:
            await conn.run(lambda c: c.set_trace_callback(None))
    await rec.close()
    rows = await spans(db, event_id)
    assert len(rows) == 5000 and all(r.ended_at is not None for r in rows)
    assert sorted(r.visitor for r in rows) == [f"visitor-{i:06d}" for i in range(5000)]


async def test_websocket_viewers_are_recorded_live_and_replay_staff_are_not(database_url: str, tmp_path: Path) -> None:
    async with live_server(
        database_url=database_url,
        media_dir=tmp_path / "media",
        attendance_flush_seconds=0.05,
        attendance_grace_seconds=1.0,
    ) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            slug = unique_slug("ws")
            made = await client.post("/api/v1/events", json={"slug": slug, "title_zh": "宣贯会"}, headers=ADMIN)
            assert made.status_code == 201
            joined = (await client.post(f"/api/v1/events/{slug}/join", json={"name": "王工"})).json()
            invited = await client.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)
            mod = invited.json()
        url = f"{server.ws_url}/api/v1/events/{slug}/ws"
        token = joined["token"]
        db = server.app.state.ctx.db
        async with db.session() as session:
            event_id = (await session.execute(select(Event.id).where(Event.slug == slug))).scalar_one()

        tab1 = await WsClient(f"{url}?token={token}").connect()
        tab2 = await WsClient(f"{url}?token={token}").connect()
        staff = await WsClient(f"{url}?token={mod['token']}").connect()
        replay = await WsClient(f"{url}?token={token}&mode=replay").connect()
        await replay.send({"type": "ping"})
        await replay.wait(lambda f: f["type"] == "pong")
        assert not replay.of_type("snapshot")  # an attendance-only connection
        await tab1.wait(lambda f: f["type"] == "snapshot")
        await staff.wait(lambda f: f["type"] == "snapshot")

        async def rows() -> list[tuple[Any, ...]]:
            return [(r.participant_id, r.mode, r.ended_at is None) for r in await spans(db, event_id)]

        pid = joined["participant_id"]
        await wait_for(lambda: _eq(rows(), [(pid, "live", True), (pid, "replay", True)]), message="two open spans")
        await tab1.close()
        await tab2.close()
        tab3 = await WsClient(f"{url}?token={token}").connect()  # the reconnect, within the grace
        await tab3.wait(lambda f: f["type"] == "snapshot")
        await replay.close()
        await wait_for(lambda: _eq(rows(), [(pid, "live", True), (pid, "replay", False)]), message="replay closed")
        await staff.close()
        # tab3 stays open: the server's shutdown closes its span.
    after = Database(database_url)
    try:
        left = [(r.mode, r.ended_at is not None) for r in await spans(after, event_id)]
    finally:
        await after.dispose()
    assert sorted(left) == [("live", True), ("replay", True)]
    await tab3.close()


async def _eq(rows: Any, expected: list[tuple[Any, ...]]) -> bool:
    return sorted(await rows) == sorted(expected)
