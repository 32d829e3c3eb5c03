"""Certificates: issued to the records that met the minimum once the event has ended; found by their code."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from archive.training import Record, new_code, normalise_code
from server.db.models import Certificate, Event
from server.lifecycle import EventState

# While the event is live, watch time still grows: certificates wait for the end.
ISSUED_FROM = frozenset({EventState.ENDED, EventState.ARCHIVED})


async def _existing(session: AsyncSession, event: Event) -> dict[int, Certificate]:
    rows = await session.execute(select(Certificate).where(Certificate.event_id == event.id))
    return {c.participant_id: c for c in rows.scalars()}


async def issue(
    session: AsyncSession, event: Event, records: list[Record], fresh: list[Certificate] | None = None
) -> dict[int, Certificate]:
    """participant id → certificate, issuing the missing ones; minutes only ever grow (replay watched later).
    The certificates issued by this call are appended to `fresh` (to be e-mailed once).

    A certificate once issued stays valid if the organiser later raises the minimum.
    """
    issued: list[Certificate] = []
    existing = await _existing(session, event)
    if event.state not in ISSUED_FROM or not records:
        return existing  # records exist only when the event keeps training (minutes, quiz or both)
    changed = False
    for record in records:
        if not record.eligible:
            continue
        certificate = existing.get(record.participant_id)
        if certificate is None:
            existing[record.participant_id] = certificate = Certificate(
                event_id=event.id,
                participant_id=record.participant_id,
                code=new_code(),
                name=record.name,
                organisation=record.organisation,
                stakeholder=record.stakeholder,
                minutes=record.minutes,
                required_minutes=event.training_min_minutes or 0,  # 0: the quiz alone earns it
            )
            session.add(certificate)
            issued.append(certificate)
            changed = True
        elif record.minutes > certificate.minutes:
            certificate.minutes = record.minutes
            changed = True
    if changed:
        try:
            await session.commit()
        except IntegrityError:
            # Another request issued the same certificates a moment ago: theirs stand.
            await session.rollback()
            return await _existing(session, event)
    if fresh is not None:
        fresh.extend(issued)
    return existing


async def find(session: AsyncSession, code: str) -> tuple[Certificate, Event] | None:
    normal = normalise_code(code)
    if normal is None:
        return None
    row = (
        await session.execute(
            select(Certificate, Event).join(Event, Event.id == Certificate.event_id).where(Certificate.code == normal)
        )
    ).first()
    return None if row is None else (row[0], row[1])
