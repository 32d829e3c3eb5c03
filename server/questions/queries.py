"""Read side: what each role sees of the queue (listing and WebSocket snapshot)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moderation.ranking import Sort, public_queue, ranked
from server.auth import STAFF, Principal
from server.db import models
from server.questions.mapping import mine_view, public_view, staff_view, to_domain


async def queue(session: AsyncSession, event: models.Event, caller: Principal | None, sort: Sort) -> dict[str, Any]:
    rows = list((await session.execute(select(models.Question).where(models.Question.event_id == event.id))).scalars())
    askers = {
        p.id: p
        for p in (
            await session.execute(
                select(models.Participant).where(models.Participant.id.in_({r.asker_id for r in rows}))
            )
        ).scalars()
    }
    questions = [to_domain(r) for r in rows]
    staff = caller is not None and caller.role in STAFF
    if staff:
        listed = [staff_view(q, askers.get(q.asker_id)) for q in ranked(questions, sort)]
    else:
        listed = [public_view(q, askers.get(q.asker_id)) for q in public_queue(questions, sort)]
    pid = caller.participant_id if caller else None
    mine = [
        mine_view(q) for q in sorted(questions, key=lambda q: q.created_at) if pid is not None and q.asker_id == pid
    ]
    voted: list[int] = []
    if pid is not None:
        voted = sorted(
            (
                await session.execute(
                    select(models.Vote.question_id)
                    .join(models.Question, models.Question.id == models.Vote.question_id)
                    .where(models.Vote.participant_id == pid, models.Question.event_id == event.id)
                )
            ).scalars()
        )
    return {"questions": listed, "mine": mine, "voted": voted}
