"""Backstage notes between staff (moderator → expert, and replies): stored, committed, then published.

A note is a staff action, so it is kept in the audit log (action "note"); no table of its own. It reaches
the staff channel only after the commit, as a numbered `note` frame, so a studio that reconnects replays it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal
from server.db import models
from server.db.engine import Database
from server.questions.publisher import Publisher

NOTE_ACTION = "note"
# What a console shows when it (re)loads: enough for a long event's backstage talk, cheap to send.
RECENT_NOTES = 50


def note_view(row: models.AuditLog) -> dict[str, Any]:
    after = row.after or {}
    return {
        "id": row.id,
        "text": str(after.get("text", "")),
        "author": {"name": str(after.get("name", "")), "role": row.actor_role},
        "at": row.at.timestamp(),
    }


async def post_note(
    db: Database, publisher: Publisher, event: models.Event, caller: Principal, text: str
) -> dict[str, Any]:
    name = caller.participant.name if caller.participant is not None else ""
    async with db.session() as session:
        row = models.AuditLog(
            event_id=event.id,
            actor_id=caller.participant_id,
            actor_role=caller.role.value,
            action=NOTE_ACTION,
            after={"text": text, "name": name},
        )
        session.add(row)
        await session.commit()
        note = note_view(row)
    await publisher.note(event.id, note)
    return note


async def recent_notes(session: AsyncSession, event: models.Event, limit: int = RECENT_NOTES) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(models.AuditLog)
            .where(models.AuditLog.event_id == event.id, models.AuditLog.action == NOTE_ACTION)
            .order_by(models.AuditLog.id.desc())
            .limit(limit)
        )
    ).scalars()
    return [note_view(r) for r in reversed(list(rows))]
