"""Moderators ordering the queue by hand: pinning one question as next, and placing questions."""

from __future__ import annotations

import math
from dataclasses import replace

from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome, audited
from moderation.guards import require_moderator, require_status
from moderation.model import Actor, Question, QuestionStatus

_S = QuestionStatus


def pin(q: Question, actor: Actor, now: float, pinned: bool, currently_pinned: Question | None = None) -> Outcome:
    """A moderator pins approved ``q`` as next (unpinning ``currently_pinned``, the event's pinned
    question if any), or unpins it."""
    require_moderator(actor)
    if pinned:
        require_status(q, _S.APPROVED)
    new = replace(q, pinned=pinned)
    changed = [new]
    extra: dict[str, object] = {}
    if pinned and currently_pinned is not None and currently_pinned.id != q.id:
        if currently_pinned.event_id != q.event_id:
            raise ValueError(f"question {currently_pinned.id} is not in event {q.event_id}")
        changed.insert(0, replace(currently_pinned, pinned=False))
        extra["unpinned"] = currently_pinned.id
    events = tuple(DomainEvent("question.pinned", c, c.status, frozenset(), {"pinned": c.pinned}) for c in changed)
    action = "pin" if pinned else "unpin"
    return Outcome(
        questions=tuple(changed),
        events=events,
        audit=(audited(actor.participant_id, action, now, q, new, extra=extra),),
    )


def reorder(q: Question, actor: Actor, now: float, position: float | None) -> Outcome:
    """A moderator places a pending or approved question: lower positions rank first; None clears it."""
    require_moderator(actor)
    require_status(q, _S.PENDING, _S.APPROVED)
    # NaN would make the ranking order depend on input order; infinities make later placing impossible.
    if position is not None and not math.isfinite(position):
        raise Refused("invalid_position", f"position must be a finite number, not {position!r}")
    new = replace(q, position=position)
    return Outcome(
        questions=(new,),
        events=(DomainEvent("question.reordered", new, q.status, frozenset(), {"position": position}),),
        audit=(audited(actor.participant_id, "reorder", now, q, new),),
    )
