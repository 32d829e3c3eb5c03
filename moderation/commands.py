"""Lifecycle commands on one question: submit, approve, edit, reject, reopen, merge.

Each is a pure function returning an ``Outcome`` or raising ``Refused``. Answering, ordering, standing
and votes live in their own modules and are re-exported here so the service has one import.
"""

from __future__ import annotations

from dataclasses import replace

from moderation.answering import mark_answered, start_answering
from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome, audited
from moderation.guards import move, require_active, require_moderator, require_staff, require_status
from moderation.merging import merge, merged_voters
from moderation.model import Actor, ModerationMode, Question, QuestionStatus, RejectReason
from moderation.ordering import pin, reorder
from moderation.rules import Action, Verdict
from moderation.standing import set_mode, set_standing
from moderation.votes import unvote, vote

__all__ = [
    "approve",
    "edit",
    "mark_answered",
    "merge",
    "merged_voters",
    "pin",
    "reject",
    "reopen",
    "reorder",
    "set_mode",
    "set_standing",
    "start_answering",
    "submit",
    "unvote",
    "vote",
]

_S = QuestionStatus


def submit(
    *,
    question_id: int,
    event_id: int,
    asker: Actor,
    text: str,
    anonymous: bool,
    now: float,
    mode: ModerationMode,
    verdict: Verdict,
    topic: str | None = None,
    pre_submitted: bool = False,
) -> Outcome:
    """A new question judged by ``rules.check``: REJECT refuses, HOLD waits for a moderator, ALLOW goes
    straight to the public queue in POST mode and waits in PRE mode."""
    if verdict.action is Action.REJECT:
        raise Refused(verdict.reason or "rejected", verdict.detail, verdict.retry_after)
    # rules.check refuses muted and banned askers too; this holds even if the caller skipped it.
    require_active(asker)
    approved = verdict.action is Action.ALLOW and mode is ModerationMode.POST
    q = Question(
        id=question_id,
        event_id=event_id,
        asker_id=asker.participant_id,
        text=text.strip(),
        status=_S.APPROVED if approved else _S.PENDING,
        created_at=now,
        anonymous=anonymous,
        approved_at=now if approved else None,
        pre_submitted=pre_submitted,
        topic=topic,
        duplicate_of=verdict.duplicate_of,
        held_reason=verdict.reason if verdict.action is Action.HOLD else None,
    )
    events = [DomainEvent("question.submitted", q, None)]
    if approved:
        events.append(DomainEvent("question.approved", q, _S.PENDING))
    return Outcome(questions=(q,), events=tuple(events))


def approve(q: Question, actor: Actor, now: float) -> Outcome:
    """A moderator approves a pending question (rejected ones come back with ``reopen``)."""
    require_moderator(actor)
    require_status(q, _S.PENDING)
    new = replace(q, status=move(q, _S.APPROVED), approved_at=now, held_reason=None)
    return Outcome(
        questions=(new,),
        events=(DomainEvent("question.approved", new, q.status, q.askers),),
        audit=(audited(actor.participant_id, "approve", now, q, new),),
    )


def edit(q: Question, actor: Actor, text: str, now: float, approve: bool = False) -> Outcome:
    """A moderator rewrites a question, keeping the asker's first wording; ``approve`` also approves a
    pending question in the same action."""
    require_moderator(actor)
    require_status(q, _S.PENDING, _S.APPROVED, _S.ANSWERING, _S.ANSWERED)
    new_text = text.strip()
    if not new_text:
        raise Refused("too_short", "the edited text is empty")
    original = q.original_text
    if original is None and new_text != q.text:
        original = q.text
    new = replace(q, text=new_text, original_text=original)
    if approve:
        require_status(q, _S.PENDING)
        new = replace(new, status=move(q, _S.APPROVED), approved_at=now, held_reason=None)
        event = DomainEvent("question.approved", new, q.status, q.askers, {"edited": True})
    else:
        event = DomainEvent("question.updated", new, q.status)
    action = "edit_approve" if approve else "edit"
    return Outcome(questions=(new,), events=(event,), audit=(audited(actor.participant_id, action, now, q, new),))


def reject(q: Question, actor: Actor, reason: RejectReason, reason_text: str | None, now: float) -> Outcome:
    """A moderator rejects a pending or approved question with a reason the asker will see."""
    require_moderator(actor)
    note = reason_text.strip() if reason_text is not None else None
    new = replace(
        q,
        status=move(q, _S.REJECTED),
        reason_code=reason,
        reason_text=note or None,
        pinned=False,
        held_reason=None,
    )
    event = DomainEvent("question.rejected", new, q.status, q.askers, {"reason": reason.value, "text": note})
    return Outcome(
        questions=(new,),
        events=(event,),
        audit=(audited(actor.participant_id, "reject", now, q, new, reason.value),),
    )


def reopen(q: Question, actor: Actor, now: float) -> Outcome:
    """Back to the queue: a rejected question (moderators), or an answered or answering one (staff).

    Clears the rejection reason and answer times; keeps any typed answer.
    """
    require_status(q, _S.REJECTED, _S.ANSWERED, _S.ANSWERING)
    if q.status is _S.REJECTED:
        require_moderator(actor)
    else:
        require_staff(actor)
    new = replace(
        q,
        status=move(q, _S.APPROVED),
        reason_code=None,
        reason_text=None,
        answering_at=None,
        answered_at=None,
        approved_at=q.approved_at if q.approved_at is not None else now,
    )
    return Outcome(
        questions=(new,),
        events=(DomainEvent("question.reopened", new, q.status, q.askers),),
        audit=(audited(actor.participant_id, "reopen", now, q, new),),
    )
