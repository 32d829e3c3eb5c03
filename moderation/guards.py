"""Who may do what, and the lifecycle guard expressed as a refusal."""

from __future__ import annotations

from moderation.errors import Refused
from moderation.lifecycle import IllegalTransition, transition
from moderation.model import Actor, Question, QuestionStatus, Standing


def require_moderator(actor: Actor) -> None:
    """Moderation actions need a moderator or admin."""
    if not actor.can_moderate:
        raise Refused("forbidden", f"{actor.role.value} cannot moderate")


def require_staff(actor: Actor) -> None:
    """Answering actions need an expert, moderator or admin."""
    if not actor.is_staff:
        raise Refused("forbidden", f"{actor.role.value} cannot answer")


def require_active(actor: Actor) -> None:
    """Muted or banned participants may not ask or vote."""
    if actor.standing is Standing.MUTED:
        raise Refused("muted")
    if actor.standing is Standing.BANNED:
        raise Refused("banned")


def move(q: Question, target: QuestionStatus) -> QuestionStatus:
    """``lifecycle.transition`` for a question, refusing with ``illegal_transition``."""
    try:
        return transition(q.status, target)
    except IllegalTransition as exc:
        raise Refused("illegal_transition", str(exc)) from exc


def require_status(q: Question, *allowed: QuestionStatus) -> None:
    """Refuse with ``illegal_transition`` unless ``q`` is in one of ``allowed``."""
    if q.status not in allowed:
        expected = ", ".join(s.value for s in allowed)
        raise Refused("illegal_transition", f"expected status {expected}, actual {q.status.value!r} (question {q.id})")
