"""People use cases: invite experts and moderators, revoke them, let viewers join."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Role, Tokens, new_nonce
from server.db.models import Event, Participant
from server.errors import ApiError, not_found
from server.lifecycle import EventState, JoinPolicy
from server.schemas import InviteCreate, InviteOut, JoinRequest
from server.services.events import passcode_matches


async def invite(session: AsyncSession, event: Event, body: InviteCreate, ttl_hours: float) -> Participant:
    participant = Participant(
        event_id=event.id,
        role=body.role,
        name=body.name,
        organisation=body.organisation,
        standing="active",
        anonymous=False,
        token_nonce=new_nonce(),
        expires_at=datetime.now(UTC) + timedelta(hours=body.ttl_hours or ttl_hours),
    )
    session.add(participant)
    await session.commit()
    return participant


async def list_invites(session: AsyncSession, event: Event) -> list[Participant]:
    rows = await session.execute(
        select(Participant)
        .where(Participant.event_id == event.id, Participant.role.in_([Role.EXPERT, Role.MODERATOR]))
        .order_by(Participant.id)
    )
    return list(rows.scalars())


async def revoke(session: AsyncSession, event: Event, participant_id: int) -> Participant:
    participant = await session.get(Participant, participant_id)
    if participant is None or participant.event_id != event.id or participant.role == Role.VIEWER:
        raise not_found(f"invite {participant_id}")
    if participant.revoked_at is None:
        participant.revoked_at = datetime.now(UTC)
        participant.token_nonce = new_nonce()
        await session.commit()
    return participant


def invite_out(p: Participant, tokens: Tokens | None, base_url: str, slug: str) -> InviteOut:
    token = tokens.issue(p) if tokens is not None and p.revoked_at is None else None
    url = None
    if token is not None:
        url = f"{base_url}/e/{slug}/enter?token={token}"
    return InviteOut(
        participant_id=p.id,
        role=p.role,
        name=p.name,
        organisation=p.organisation,
        token=token,
        url=url,
        expires_at=p.expires_at,
        revoked=p.revoked_at is not None,
    )


# Standings by severity: a new join inherits the worst one among its relatives.
_SEVERITY = {"active": 0, "muted": 1, "banned": 2}


def root(p: Participant) -> int:
    """The first participant of ``p``'s chain of joins."""
    return p.lineage_id or p.id


async def predecessor(
    session: AsyncSession, event: Event, tokens: Tokens, offered: Iterable[tuple[str, bool]]
) -> Participant | None:
    """The viewer of this event whose token the joining client still holds (cookie or Bearer), if any.

    The signature is what counts: an expired token, or one whose nonce was rotated, still proves the
    client was that viewer."""
    for token, _ in offered:
        parsed = tokens.read(token)
        if parsed is None:
            continue
        p = await session.get(Participant, parsed[0])
        if p is not None and p.event_id == event.id and p.role == Role.VIEWER:
            return p
    return None


async def relatives(
    session: AsyncSession, event_id: int, lineage: int | None, visitor: str | None
) -> list[Participant]:
    """The viewers of the event in chain ``lineage`` or from browser ``visitor``: one person, as far as
    the server can tell."""
    same: list[Any] = []
    if lineage is not None:
        same += [Participant.id == lineage, Participant.lineage_id == lineage]
    if visitor is not None:
        same.append(Participant.visitor == visitor)
    if not same:
        return []
    rows = await session.execute(
        select(Participant)
        .where(Participant.event_id == event_id, Participant.role == Role.VIEWER, or_(*same))
        .order_by(Participant.id)
    )
    return list(rows.scalars())


async def join(
    session: AsyncSession,
    event: Event,
    body: JoinRequest,
    ttl_hours: float,
    previous: Participant | None = None,
) -> Participant:
    if event.state == EventState.ARCHIVED and event.join_policy != JoinPolicy.OPEN:
        raise ApiError(409, "event_archived", "this event is archived; watch the recording instead")
    policy = JoinPolicy(event.join_policy)
    if policy == JoinPolicy.PASSCODE and not passcode_matches(event.passcode_hash, body.passcode):
        raise ApiError(403, "bad_passcode", "the passcode is not correct")
    anonymous = body.anonymous or not body.name
    if policy == JoinPolicy.REGISTRATION:
        missing = [f for f in ("name", "organisation", "stakeholder") if not getattr(body, f)]
        if missing:
            raise ApiError(
                422,
                "registration_required",
                f"this event asks for: {', '.join(missing)}",
                fields=[{"field": f, "message": "required"} for f in missing],
            )
        # Registered viewers are known to the organiser; they may still ask a question anonymously.
        anonymous = False
    if anonymous and not event.allow_anonymous:
        raise ApiError(422, "anonymous_not_allowed", "this event does not allow anonymous participants")
    # Joining again (same browser, or holding an earlier token) keeps a ban or a mute.
    family = await relatives(session, event.id, root(previous) if previous else None, body.visitor)
    standing = max((p.standing for p in family), key=_SEVERITY.__getitem__, default="active")
    lineage = root(previous) if previous else (root(family[-1]) if family else None)
    participant = Participant(
        event_id=event.id,
        role=Role.VIEWER.value,
        name=body.name,
        organisation=body.organisation,
        stakeholder=body.stakeholder,
        anonymous=anonymous,
        standing=standing,
        email=body.email or None,
        token_nonce=new_nonce(),
        expires_at=datetime.now(UTC) + timedelta(hours=ttl_hours),
        visitor=body.visitor,
        lineage_id=lineage,
    )
    session.add(participant)
    await session.commit()
    return participant
