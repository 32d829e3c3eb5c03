"""Participant standing (mute, ban, restore) and the event's moderation mode."""

from __future__ import annotations

from moderation.errors import Refused
from moderation.events import AuditEntry, DomainEvent, Outcome
from moderation.guards import require_moderator
from moderation.model import Actor, ModerationMode, Standing


def set_standing(target: Actor, actor: Actor, standing: Standing, reason: str | None, now: float) -> Outcome:
    """A moderator mutes, bans or restores a viewer. Staff cannot be targeted."""
    require_moderator(actor)
    if target.is_staff:
        raise Refused("forbidden", f"{target.role.value}s cannot be muted or banned")
    pid = target.participant_id
    event = DomainEvent(
        "participant.standing",
        None,
        None,
        frozenset({pid}),
        {"participant_id": pid, "standing": standing.value, "previous": target.standing.value},
    )
    entry = AuditEntry(
        actor_id=actor.participant_id,
        action="standing",
        at=now,
        participant_id=pid,
        reason=reason,
        before={"standing": target.standing.value},
        after={"standing": standing.value},
    )
    return Outcome(events=(event,), audit=(entry,))


def set_mode(actor: Actor, mode: ModerationMode, now: float) -> Outcome:
    """A moderator switches the event between pre- and post-moderation, live.

    Questions already pending stay pending: switching to POST does not approve them unseen.
    """
    require_moderator(actor)
    entry = AuditEntry(actor_id=actor.participant_id, action="mode", at=now, after={"mode": mode.value})
    return Outcome(events=(DomainEvent("event.mode", data={"mode": mode.value}),), audit=(entry,))
