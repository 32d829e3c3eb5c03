"""Read side: what each role sees of the queue (listing and WebSocket snapshot)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moderation.model import QuestionStatus, is_public
from moderation.ranking import Sort, public_queue, ranked
from server.auth import STAFF, Principal
from server.db import models
from server.questions.mapping import mine_view, public_view, staff_view, to_domain

PUBLIC_STATUSES = tuple(s for s in QuestionStatus if is_public(s))


async def queue(session: AsyncSession, event: models.Event, caller: Principal | None, sort: Sort) -> dict[str, Any]:
    staff = caller is not None and caller.role in STAFF
    listed = await (staff_listing if staff else public_listing)(session, event, sort)
    pid = caller.participant_id if caller else None
    return {"questions": listed, **(await personal(session, event, pid))}


async def staff_listing(session: AsyncSession, event: models.Event, sort: Sort) -> list[dict[str, Any]]:
    rows = list((await session.execute(select(models.Question).where(models.Question.event_id == event.id))).scalars())
    askers = await _askers(session, rows)
    return [staff_view(q, askers.get(q.asker_id)) for q in ranked([to_domain(r) for r in rows], sort)]


async def public_listing(session: AsyncSession, event: models.Event, sort: Sort) -> list[dict[str, Any]]:
    # Only what viewers may see is loaded: pending, rejected and merged questions never leave the database.
    rows = list(
        (
            await session.execute(
                select(models.Question).where(
                    models.Question.event_id == event.id, models.Question.status.in_(PUBLIC_STATUSES)
                )
            )
        ).scalars()
    )
    askers = await _askers(session, rows)
    return [public_view(q, askers.get(q.asker_id)) for q in public_queue([to_domain(r) for r in rows], sort)]


async def personal(session: AsyncSession, event: models.Event, pid: int | None) -> dict[str, Any]:
    """The caller's own questions (any status) and the questions they voted for."""
    if pid is None:
        return {"mine": [], "voted": []}
    rows = (
        await session.execute(
            select(models.Question)
            .where(models.Question.event_id == event.id, models.Question.asker_id == pid)
            .order_by(models.Question.created_at, models.Question.id)
        )
    ).scalars()
    voted = (
        await session.execute(
            select(models.Vote.question_id)
            .join(models.Question, models.Question.id == models.Vote.question_id)
            .where(models.Vote.participant_id == pid, models.Question.event_id == event.id)
        )
    ).scalars()
    return {"mine": [mine_view(to_domain(r)) for r in rows], "voted": sorted(voted)}


async def _askers(session: AsyncSession, rows: list[models.Question]) -> dict[int, models.Participant]:
    ids = {r.asker_id for r in rows}
    if not ids:
        return {}
    found = await session.execute(select(models.Participant).where(models.Participant.id.in_(ids)))
    return {p.id: p for p in found.scalars()}


class PublicSnapshots:
    """The public queue per event, reused by every viewer who connects at the same channel position.

    A reconnect storm (a network blip at 5,000 viewers) would otherwise load and map the whole queue
    5,000 times. An entry is valid only for the position it was built at (any public change moves the
    position) and for at most MAX_AGE_S, which bounds staleness from changes that publish nothing.
    """

    MAX_AGE_S = 2.0

    def __init__(self) -> None:
        self._entries: dict[int, tuple[int, float, list[dict[str, Any]]]] = {}

    async def get(
        self, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]], event: models.Event, position: int
    ) -> list[dict[str, Any]]:
        """`sessions` opens a database session, only on a miss (a hit costs no connection at all)."""
        entry = self._entries.get(event.id)
        now = time.monotonic()
        if entry is not None and entry[0] == position and now - entry[1] < self.MAX_AGE_S:
            return entry[2]
        async with sessions() as session:
            listed = await public_listing(session, event, Sort.POPULAR)
        self._entries[event.id] = (position, now, listed)
        return listed
