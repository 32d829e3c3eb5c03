"""Staff marking what is being answered live, and what has been answered."""

from __future__ import annotations

from dataclasses import replace

from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome, audited
from moderation.guards import move, require_staff
from moderation.model import Actor, Question, QuestionStatus

_S = QuestionStatus


def start_answering(q: Question, actor: Actor, now: float, current: Question | None) -> Outcome:
    """An expert, moderator or admin starts answering approved ``q``.

    ``current`` is the event's ANSWERING question, if any: only one is answered at a time, so it becomes
    ANSWERED now. A ``current`` that is not answering in the same event means the caller's view is stale.
    """
    require_staff(actor)
    status = move(q, _S.ANSWERING)
    new = replace(q, status=status, answering_at=now, pinned=False)
    changed: list[Question] = []
    events: list[DomainEvent] = []
    extra: dict[str, object] = {}
    if current is not None:
        if current.event_id != q.event_id or current.status is not _S.ANSWERING:
            raise Refused(
                "answering_elsewhere",
                f"question {current.id} is {current.status.value} in event {current.event_id}",
            )
        done = replace(current, status=move(current, _S.ANSWERED), answered_at=now, pinned=False)
        changed.append(done)
        events.append(DomainEvent("question.answered", done, current.status, current.askers))
        extra["finished"] = current.id
    changed.append(new)
    events.append(DomainEvent("question.answering", new, q.status, q.askers))
    return Outcome(
        questions=tuple(changed),
        events=tuple(events),
        audit=(audited(actor.participant_id, "answering", now, q, new, extra=extra),),
    )


def mark_answered(q: Question, actor: Actor, now: float, answer_text: str | None) -> Outcome:
    """Staff mark an approved or answering question answered, optionally with a typed answer.

    A missing or blank ``answer_text`` keeps any answer typed before (e.g. before a reopen).
    """
    require_staff(actor)
    typed = answer_text.strip() if answer_text is not None else ""
    new = replace(
        q,
        status=move(q, _S.ANSWERED),
        answered_at=now,
        pinned=False,
        answer_text=typed or q.answer_text,
    )
    return Outcome(
        questions=(new,),
        events=(DomainEvent("question.answered", new, q.status, q.askers),),
        audit=(audited(actor.participant_id, "answered", now, q, new),),
    )
